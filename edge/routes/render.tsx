/**
 * @module edge/routes/render
 * Rendering a page inside the frame, and the error page every failure uses.
 */
import { html } from 'hono/html';
import type { Child } from 'hono/jsx';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Ctx, Edge } from '../edge.js';
import { Page } from '../views/layout.js';

export function render(c: Ctx, edge: Edge, title: string, body: Child, status: ContentfulStatusCode = 200): Response | Promise<Response> {
  c.header('cache-control', 'no-store');
  const page = (
    <Page title={title} path={new URL(c.req.url).pathname} vars={{ session: c.get('session') ?? null, csrf: c.get('csrf') ?? '', flash: c.get('flash') ?? null }} version={edge.deps.version}>
      {body}
    </Page>
  );
  // Without the doctype browsers render in quirks mode.
  return c.html(html`<!DOCTYPE html>${page}`, status);
}

export function errorPage(c: Ctx, edge: Edge, status: ContentfulStatusCode, title: string, message: string, next?: Child): Response | Promise<Response> {
  return render(
    c,
    edge,
    title,
    <>
      <h1>{title}</h1>
      <div class="card">
        <p>{message}</p>
        {next ?? <p><a href="/">Back to the dashboard</a></p>}
      </div>
    </>,
    status,
  );
}
