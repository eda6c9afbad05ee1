/**
 * @module node/http/client-setup
 * Mail client set-up answered by the node itself. node/dns points
 * mta-sts.<domain>, autoconfig.<domain> and autodiscover.<domain> at the mail
 * host (unless a web host is set), so these requests reach this server, not
 * the edge Worker:
 * - the MTA-STS policy (RFC 8461) on mta-sts.<domain>: the same text whose
 *   hash is the _mta-sts TXT id;
 * - Thunderbird autoconfig on autoconfig.<domain>/mail/config-v1.1.xml and
 *   /.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=…;
 * - Outlook autodiscover, POST /autodiscover/autodiscover.xml.
 * The documents come from edge/setup/* (pure string builders), the same code
 * the edge serves, with the hosts and ports node/dns publishes. Hosted domains
 * only; the Host header is never echoed.
 */
import type { Context, Hono } from 'hono';
import { clientPorts, type ClientPorts } from '../../edge/context.js';
import { thunderbirdConfig, type ClientSetup } from '../../edge/setup/autoconfig.js';
import { autodiscoverAddress, autodiscoverError, autodiscoverResponse } from '../../edge/setup/autodiscover.js';
import { parseEmail } from '../../edge/setup/xml.js';
import type { Config } from '../config/index.js';
import { DnsInputError, mtaStsPolicyFor } from '../dns/index.js';
import type { Store } from '../store/index.js';
import { readBoundedBody } from '../util/bounded-body.js';

export interface ClientSetupDeps {
  store: Store;
  config: Config;
  /** Where clients connect; default the ports node/dns publishes in SRV records (993, 465, 587, 995, 443). */
  ports?: Partial<ClientPorts>;
}

/** An Outlook request is a few hundred bytes. */
const MAX_AUTODISCOVER_BODY = 16 * 1024;

const PLAIN = { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' };
const XML = { 'Content-Type': 'application/xml; charset=utf-8', 'X-Content-Type-Options': 'nosniff' };

function hostOf(c: Context): string {
  return new URL(c.req.url).hostname.toLowerCase();
}

/** The body as text, or null when it is larger than `limit` bytes. */
async function boundedText(req: Request, limit: number): Promise<string | null> {
  return (await readBoundedBody(req, limit))?.toString('utf8') ?? null;
}

export function registerClientSetup(app: Hono, deps: ClientSetupDeps): void {
  const hosted = (domain: string) => !!deps.store.directory.getDomain(domain);
  const setup = (domain: string): ClientSetup => ({ domain, mailHost: deps.config.hostname.toLowerCase(), ports: clientPorts({ ports: deps.ports }), pop3: deps.config.pop3.enabled });

  app.get('/.well-known/mta-sts.txt', (c) => {
    const host = hostOf(c);
    const domain = host.startsWith('mta-sts.') ? host.slice('mta-sts.'.length) : null;
    if (!domain) return c.body('the MTA-STS policy is served on mta-sts.<mail domain>\n', 404, PLAIN);
    if (!hosted(domain)) return c.body('that is not a mail domain of this server\n', 404, PLAIN);
    try {
      return c.body(mtaStsPolicyFor({ mailHost: deps.config.hostname }), 200, { ...PLAIN, 'Cache-Control': 'public, max-age=300' });
    } catch (err) {
      if (!(err instanceof DnsInputError)) throw err;
      return c.body(`no MTA-STS policy: ${err.message}\n`, 503, PLAIN);
    }
  });

  const autoconfig = (c: Context) => {
    const host = hostOf(c);
    const email = parseEmail(c.req.query('emailaddress'));
    const domain = host.startsWith('autoconfig.') ? host.slice('autoconfig.'.length) : email?.domain;
    if (!domain) return c.body('add ?emailaddress=you@example.com, or fetch this from autoconfig.<your domain>\n', 404, PLAIN);
    if (!hosted(domain)) return c.body('that is not a mail domain of this server: set up the account by hand or ask the administrator\n', 404, PLAIN);
    return c.body(thunderbirdConfig(setup(domain)), 200, { ...XML, 'Cache-Control': 'public, max-age=3600' });
  };
  app.get('/mail/config-v1.1.xml', autoconfig);
  app.get('/.well-known/autoconfig/mail/config-v1.1.xml', autoconfig);

  // Outlook reads only 200 answers; an error document makes it try its next method.
  const autodiscover = async (c: Context) => {
    const headers = { ...XML, 'Cache-Control': 'no-store' };
    const body = await boundedText(c.req.raw, MAX_AUTODISCOVER_BODY);
    if (body === null) return c.body(autodiscoverError('The request is too large.'), 413, headers);
    const address = autodiscoverAddress(body);
    if (!address) return c.body(autodiscoverError('The request named no valid e-mail address.'), 200, headers);
    const domain = address.slice(address.lastIndexOf('@') + 1);
    if (!hosted(domain)) return c.body(autodiscoverError('That domain is not served here.'), 200, headers);
    return c.body(autodiscoverResponse(setup(domain), address), 200, headers);
  };
  app.post('/autodiscover/autodiscover.xml', autodiscover);
  app.post('/Autodiscover/Autodiscover.xml', autodiscover);
}
