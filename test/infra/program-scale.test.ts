/**
 * @module test/infra/program-scale
 * One hundred mail domains deploy: the server's user data stays the same
 * small bootstrap (Hetzner refuses more than 32 KiB: the `userData` field's
 * limit in @pulumi/hcloud's Server), since every per-domain thing (DKIM keys,
 * records) travels in the configuration bundle and in Cloudflare.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { renderCloudInit } from '../../infra/cloud-init.js';
import { baseConfig, extractBundle, installMocks, type MockWorld, runProgram, VOLUME_ID } from './harness.js';

const DOMAINS = Array.from({ length: 100 }, (_, i) => `mail-domain-${String(i).padStart(3, '0')}.example`);
let world: MockWorld;
let program: typeof import('../../infra/index.js');

beforeAll(async () => {
  world = await installMocks(baseConfig({ 'haven:domains': JSON.stringify(DOMAINS), 'haven:mailHost': `mail.${DOMAINS[0]}` }), undefined, { oneRsaKey: true });
  program = await runProgram();
}, 240_000);

describe('100 domains', () => {
  it('user data stays far below Hetzner\'s 32 KiB and names no domain but the mail host\'s', () => {
    const userData = world.one('hcloud:index/server:Server').inputs.userData as string;
    const size = Buffer.byteLength(userData);
    // About 16 KiB of bootstrap, the same as for one domain.
    expect(size).toBeLessThan(20 * 1024);
    for (const d of DOMAINS.slice(1)) expect(userData).not.toContain(d);
    // Exactly the bootstrap a one-domain stack renders.
    expect(userData).toBe(renderCloudInit({ mailHost: `mail.${DOMAINS[0]}`, volumeId: VOLUME_ID, havenRelease: baseConfig()['haven:havenRelease'] }));
  });

  it('every domain gets its DKIM key on the node and its records in Cloudflare', async () => {
    const files = await extractBundle(world.one('command:remote:Command').inputs.stdin);
    const keys = [...files.keys()].filter((p) => p.startsWith('/etc/haven/credentials/dkim.'));
    expect(keys).toHaveLength(100);
    const dropIn = files.get('/etc/systemd/system/haven.service.d/credentials.conf')!.content;
    expect(dropIn.split('\n').filter((l) => l.startsWith('LoadCredential=dkim.'))).toHaveLength(100);
    const dkimRecords = world.byType('cloudflare:index/dnsRecord:DnsRecord').filter((r) => r.inputs.name.includes('._domainkey.'));
    expect(dkimRecords).toHaveLength(100);
  });
});
