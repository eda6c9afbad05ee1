/**
 * @module edge/routes/setup
 * Mail client set-up that clients fetch without logging in:
 * - https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461), the same
 *   text node/dns hashes into the _mta-sts TXT id;
 * - Thunderbird autoconfig on autoconfig.<domain>/mail/config-v1.1.xml and
 *   <any host>/.well-known/autoconfig/mail/config-v1.1.xml;
 * - Outlook autodiscover, POST /autodiscover/autodiscover.xml.
 * Only for domains this server serves, so the edge is not an open oracle.
 */
import type { Context, Hono } from 'hono';
import { DnsInputError, mtaStsPolicyFor } from '../../node/dns/index.js';
import type { EdgeEnv } from '../context.js';
import type { Edge } from '../edge.js';
import { thunderbirdConfig } from '../setup/autoconfig.js';
import { autodiscoverAddress, autodiscoverError, autodiscoverResponse } from '../setup/autodiscover.js';
import { parseEmail } from '../setup/xml.js';

function hostOf(c: Context): string {
  return new URL(c.req.url).hostname.toLowerCase();
}

function text(c: Context, status: 404 | 503, message: string): Response {
  c.header('content-type', 'text/plain; charset=utf-8');
  return c.body(message + '\n', status);
}

async function known(edge: Edge, domain: string): Promise<boolean | 'unknown'> {
  try {
    return await edge.knownDomain(domain);
  } catch {
    return 'unknown';
  }
}

export function registerSetup(app: Hono<EdgeEnv>, edge: Edge): void {
  app.get('/.well-known/mta-sts.txt', async (c, next) => {
    const host = hostOf(c);
    if (!host.startsWith('mta-sts.')) return next();
    const domain = host.slice('mta-sts.'.length);
    const k = await known(edge, domain);
    if (k === 'unknown') return text(c, 503, `could not confirm that ${domain} is served here (the node did not answer): set MAIL_DOMAINS on the edge so the policy never depends on the node`);
    if (!k) return text(c, 404, `${domain} is not a mail domain of this server: add it in the admin UI or to MAIL_DOMAINS`);
    let policy: string;
    try {
      policy = mtaStsPolicyFor({ mailHost: edge.setup(domain).mailHost, mtaStsMode: edge.deps.mtaSts?.mode, mtaStsMaxAgeSeconds: edge.deps.mtaSts?.maxAgeSeconds });
    } catch (err) {
      if (!(err instanceof DnsInputError)) throw err;
      return text(c, 503, `no MTA-STS policy: ${err.message} (set MAIL_HOST)`);
    }
    c.header('content-type', 'text/plain; charset=utf-8');
    c.header('cache-control', 'public, max-age=300');
    return c.body(policy);
  });

  const autoconfig = async (c: Context<EdgeEnv>) => {
    const host = hostOf(c);
    const email = parseEmail(c.req.query('emailaddress'));
    const domain = host.startsWith('autoconfig.') ? host.slice('autoconfig.'.length) : email?.domain;
    if (!domain) return text(c, 404, 'add ?emailaddress=you@example.com, or fetch this from autoconfig.<your domain>');
    const k = await known(edge, domain);
    if (k === 'unknown') return text(c, 503, `could not confirm that ${domain} is served here (the node did not answer): try again in a minute`);
    if (!k) return text(c, 404, `${domain} is not a mail domain of this server: set up the account by hand or ask the administrator`);
    c.header('content-type', 'application/xml; charset=utf-8');
    c.header('cache-control', 'public, max-age=3600');
    return c.body(thunderbirdConfig(edge.setup(domain)));
  };
  app.get('/mail/config-v1.1.xml', autoconfig);
  app.get('/.well-known/autoconfig/mail/config-v1.1.xml', autoconfig);

  const autodiscover = async (c: Context<EdgeEnv>) => {
    c.header('content-type', 'application/xml; charset=utf-8');
    c.header('cache-control', 'no-store');
    const address = autodiscoverAddress(await c.req.text());
    if (!address) return c.body(autodiscoverError('The request named no valid e-mail address.'), 200);
    const domain = address.slice(address.lastIndexOf('@') + 1);
    const k = await known(edge, domain);
    if (k !== true) return c.body(autodiscoverError(k === 'unknown' ? 'The server could not confirm the domain; try again later.' : `${domain} is not served here.`), 200);
    return c.body(autodiscoverResponse(edge.setup(domain), address));
  };
  app.post('/autodiscover/autodiscover.xml', autodiscover);
  app.post('/Autodiscover/Autodiscover.xml', autodiscover);
}
