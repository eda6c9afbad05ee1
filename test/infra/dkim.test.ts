/**
 * @module test/infra/dkim
 * The DKIM key the Pulumi program keeps reaches the node and is the key it
 * signs with: the configuration bundle's credential files, laid out as its
 * unit drop-in's LoadCredential= lines say, are imported at start (the domain is
 * hosted if it was not yet); a message signed by the node's DKIM signer
 * verifies against the TXT record node/dns publishes for that key.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { dkimVerify } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeConfigFiles } from '../../infra/node-config.js';
import { importDkimCredentials } from '../../node/main.js';
import { mailDnsRecords, type DnsRecord } from '../../node/dns/index.js';
import { signMessage } from '../../node/smtp/dkim.js';
import { silentLogger } from '../../node/util/log.js';
import { makeTestStore, type TestStore } from '../helpers/store.js';

const DOMAINS = ['example.com', 'example.org'];
// What @pulumi/tls's PrivateKey (RSA 2048) gives the program: PKCS#8 and SPKI PEM.
const keys = Object.fromEntries(
  DOMAINS.map((d) => {
    const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return [d, { priv: k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, pub: k.publicKey.export({ type: 'spki', format: 'pem' }) as string }];
  }),
);

const scratch = mkdtempSync(join(tmpdir(), 'haven-dkim-'));
const creds = join(scratch, 'run-credentials');
let t: TestStore;
let published: DnsRecord[];

beforeAll(() => {
  // The files `pulumi up` hands the node (infra/node-config.ts), laid out under a scratch root.
  const files = nodeConfigFiles({
    mailHost: 'mail.example.com',
    pop3: false,
    acmeEmail: 'postmaster@example.com',
    replicaUrl: '',
    dkimKeys: DOMAINS.map((domain) => ({ domain, selector: 'haven', privateKeyPem: keys[domain].priv })),
    secrets: { masterKey: 'ab'.repeat(32), edgeSecret: 'e'.repeat(40), smarthost: '', replicaAccessKeyId: '', replicaSecretAccessKey: '' },
    authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0b8kTq0ZC1QoXyJzKc deploy'],
  });
  for (const f of files) {
    mkdirSync(dirname(join(scratch, f.path)), { recursive: true });
    writeFileSync(join(scratch, f.path), f.content);
  }
  const dropIn = files.find((f) => f.path === '/etc/systemd/system/haven.service.d/credentials.conf')!.content;
  expect(dropIn).toContain(`LoadCredential=dkim.haven.example.com:`);
  mkdirSync(creds, { recursive: true });
  for (const m of dropIn.matchAll(/^LoadCredential=([^:\n]+):(.+)$/gm)) copyFileSync(join(scratch, m[2]), join(creds, m[1]));
  // The DNS records the program creates for the same keys.
  published = mailDnsRecords({
    domains: DOMAINS.map((name) => ({ name, dkim: { selector: 'haven', publicKey: keys[name].pub } })),
    mailHost: 'mail.example.com',
    ipv4: '203.0.113.10',
    ipv6: '2001:db8::1',
    pop3: false,
  });
  t = makeTestStore();
  // example.org was added by hand before, with a key of the node's own making.
  t.store.directory.addDomain('example.org');
});
afterAll(() => {
  t.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

const txt = (name: string) => published.find((r) => r.type === 'TXT' && r.name === name) as unknown as { content: string };

describe('DKIM keys from the service credentials', () => {
  it('hosts each domain and makes the delivered key the newest active one', () => {
    expect(importDkimCredentials(t.store, creds, silentLogger)).toBe(2);
    expect(t.store.directory.listDomains().map((d) => d.name).sort()).toEqual(DOMAINS);
    for (const d of DOMAINS) {
      const [first] = t.store.directory.dkimKeys(d);
      expect(first.selector).toBe('haven');
      // The p= the node would publish is the p= the program published.
      const p = /p=([A-Za-z0-9+/=]+)/.exec(txt(`haven._domainkey.${d}`).content.replace(/"\s*"/g, ''))![1];
      expect(first.publicKeyDns).toBe(p);
    }
  });

  it('signs so that a verifier resolving the published record says pass, for both domains', async () => {
    const resolver = async (name: string, rrtype: string) => {
      const r = published.find((x) => x.type === rrtype && x.name === name.replace(/\.$/, ''));
      if (!r || r.type !== 'TXT') throw Object.assign(new Error(`no ${rrtype} for ${name}`), { code: 'ENOTFOUND' });
      return [[r.content.replace(/"\s*"/g, '').replace(/^"|"$/g, '')]];
    };
    for (const d of DOMAINS) {
      const raw = Buffer.from(`From: ann@${d}\r\nTo: bob@example.net\r\nSubject: hello\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@${d}>\r\n\r\nHi.\r\n`);
      const sig = await signMessage(raw, d, t.store.directory.dkimKeys(d));
      const signed = Buffer.concat([Buffer.from(sig.endsWith('\r\n') ? sig : sig + '\r\n'), raw]);
      const v = await dkimVerify(signed, { resolver });
      const haven = v.results.find((r) => r.signingDomain === d && r.selector === 'haven');
      expect(haven?.status.result, d).toBe('pass');
    }
  });

  it('is idempotent, and follows a replaced key', () => {
    const before = t.store.directory.dkimKeys('example.com')[0];
    importDkimCredentials(t.store, creds, silentLogger);
    expect(t.store.directory.dkimKeys('example.com')[0]).toEqual(before);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    writeFileSync(join(creds, 'dkim.haven.example.com'), other);
    importDkimCredentials(t.store, creds, silentLogger);
    const after = t.store.directory.dkimKeys('example.com');
    expect(after.filter((k) => k.selector === 'haven')).toHaveLength(1);
    expect(after[0].privateKeyPem).toBe(other);
  });

  it('does nothing without a credentials directory (a local run)', () => {
    expect(importDkimCredentials(t.store, undefined, silentLogger)).toBe(0);
    expect(importDkimCredentials(t.store, join(scratch, 'missing'), silentLogger)).toBe(0);
  });
});

