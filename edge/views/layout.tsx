/**
 * @module edge/views/layout
 * The page frame (navigation, flash message, footer) and the small pieces
 * every page uses. hono/jsx escapes every interpolated string, which is the
 * whole of the UI's defence against hostile names: nothing here builds HTML
 * from strings.
 */
import type { Child, FC } from 'hono/jsx';
import type { EdgeVars } from '../context.js';

const NAV: [string, string][] = [
  ['/', 'Dashboard'],
  ['/domains', 'Domains'],
  ['/accounts', 'Accounts'],
  ['/aliases', 'Aliases'],
  ['/queue', 'Queue'],
  ['/replication', 'Replication'],
  ['/status', 'Status'],
];

export interface PageProps {
  title: string;
  /** The current path, to mark the navigation entry. */
  path: string;
  vars: Pick<EdgeVars, 'session' | 'csrf' | 'flash'>;
  version?: string;
  children?: Child;
}

export const Page: FC<PageProps> = ({ title, path, vars, version, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="same-origin" />
      <title>{title} · Haven admin</title>
      <link rel="stylesheet" href="/assets/app.css" />
    </head>
    <body>
      <header class="top">
        <a class="brand" href="/">Haven</a>
        {vars.session ? (
          <>
            <nav>
              {NAV.map(([href, label]) => (
                <a href={href} class={(href === '/' ? path === '/' : path.startsWith(href)) ? 'here' : undefined}>
                  {label}
                </a>
              ))}
            </nav>
            <form method="post" action="/logout">
              <Csrf token={vars.csrf} />
              <button class="link" type="submit">Log out</button>
            </form>
          </>
        ) : null}
      </header>
      <main>
        {vars.flash ? <div class={`flash ${vars.flash.kind}`} role={vars.flash.kind === 'error' ? 'alert' : 'status'}>{vars.flash.text}</div> : null}
        {children}
      </main>
      <footer>Haven edge{version ? ` ${version}` : ''}</footer>
    </body>
  </html>
);

export const Csrf: FC<{ token: string }> = ({ token }) => <input type="hidden" name="_csrf" value={token} />;

export type Health = 'ok' | 'bad' | 'warn' | 'unk';

export const Badge: FC<{ kind: Health; children?: Child }> = ({ kind, children }) => <span class={`badge ${kind}`}>{children}</span>;

export const Stat: FC<{ label: string; kind?: Health; children?: Child }> = ({ label, kind, children }) => (
  <div class="stat">
    <div class="label">{label}</div>
    <div class="value">{kind ? <Badge kind={kind}>{children}</Badge> : children}</div>
  </div>
);

/** A POST button with its CSRF token: every state change in the UI is one of these or a form. */
export const PostButton: FC<{ action: string; csrf: string; label: string; danger?: boolean; secondary?: boolean }> = ({ action, csrf, label, danger, secondary }) => (
  <form class="inline" method="post" action={action}>
    <Csrf token={csrf} />
    <button type="submit" class={danger ? 'danger' : secondary ? 'secondary' : undefined}>
      {label}
    </button>
  </form>
);
