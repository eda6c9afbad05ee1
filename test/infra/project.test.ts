/**
 * @module test/infra/project
 * Pulumi.yaml, the example stack and the program's config reader agree: the
 * same keys, the same defaults, secrets declared as secrets; and the program
 * loads the way Pulumi.yaml tells Pulumi to load it (`node --import tsx`).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CONFIG_KEYS, readStackConfig, SECRET_KEYS } from '../../infra/config.js';
import { REPO_ROOT } from '../../infra/edge.js';
import { baseConfig } from './harness.js';
import { DEFAULT_DMARC_POLICY, DMARC_POLICIES } from '../../node/dns/index.js';

const run = promisify(execFile);
const project = parseYaml(readFileSync(`${REPO_ROOT}/Pulumi.yaml`, 'utf8'));
const example = parseYaml(readFileSync(`${REPO_ROOT}/stacks/Pulumi.example.yaml`, 'utf8'));
const exampleText = readFileSync(`${REPO_ROOT}/stacks/Pulumi.example.yaml`, 'utf8');
type Decl = { type: string; items?: { type: string }; default?: unknown; description?: string; secret?: boolean };
const decls = project.config as Record<string, Decl>;
const required = Object.entries(decls).filter(([, d]) => d.default === undefined).map(([k]) => k);

describe('Pulumi.yaml', () => {
  it('runs infra/index.ts on Node with tsx, stack files in stacks/', () => {
    expect(project.name).toBe('haven');
    expect(project.runtime).toMatchObject({ name: 'nodejs', options: { typescript: false, nodeargs: '--import tsx' } });
    expect(project.main).toBe('infra/index.ts');
    expect(project.stackConfigDir).toBe('stacks');
    expect(existsSync(`${REPO_ROOT}/${project.main}`)).toBe(true);
  });

  it('declares exactly the keys the program reads, each typed and described; secrets as secrets', () => {
    expect(Object.keys(decls).sort()).toEqual([...CONFIG_KEYS].sort());
    for (const [key, d] of Object.entries(decls)) {
      expect(['string', 'integer', 'boolean', 'array'], key).toContain(d.type);
      if (d.type === 'array') expect(d.items, key).toEqual({ type: 'string' });
      expect(d.description?.length, key).toBeGreaterThan(20);
    }
    // Required secrets are declared secret; optional ones (with a "" default) cannot be, and are read with getSecret.
    for (const key of SECRET_KEYS) expect(decls[key].secret === true || decls[key].default === '', key).toBe(true);
    expect(required.sort()).toEqual(['adminPasswordHash', 'adminSourceIps', 'cloudflareAccountId', 'domains', 'edgeSecret', 'havenRelease', 'masterKey', 'sshPublicKeys']);
  });

  it('its defaults are the defaults the program applies', () => {
    const only: Record<string, string> = {};
    for (const k of required) only[`haven:${k}`] = baseConfig()[`haven:${k}`];
    pulumi.runtime.setAllConfig(only, SECRET_KEYS.map((k) => `haven:${k}`));
    const cfg = readStackConfig() as unknown as Record<string, unknown>;
    const derived: Record<string, unknown> = { mailHost: 'mail.example.com', acmeEmail: 'postmaster@example.com', adminHost: 'admin.example.com', primaryLocation: 'fsn1' };
    for (const [key, d] of Object.entries(decls)) {
      if (d.default === undefined || (SECRET_KEYS as readonly string[]).includes(key)) continue;
      expect(cfg[key], key).toEqual(key in derived ? derived[key] : d.default);
    }
  });
});

describe('stacks/Pulumi.example.yaml', () => {
  it('sets only declared keys, every required plain key, and shows how to set every secret', () => {
    const keys = Object.keys(example.config);
    expect(keys.filter((k) => !k.startsWith('haven:') || !(CONFIG_KEYS as readonly string[]).includes(k.slice(6)))).toEqual([]);
    for (const k of required.filter((k) => !(SECRET_KEYS as readonly string[]).includes(k))) expect(keys, k).toContain(`haven:${k}`);
    for (const k of [...SECRET_KEYS.map((s) => `haven:${s}`), 'hcloud:token', 'cloudflare:apiToken']) {
      expect(exampleText, k).toMatch(new RegExp(`pulumi config set --secret ${k} `));
      expect(keys, k).not.toContain(k);
    }
  });

  it('is a config the program accepts', () => {
    const values: Record<string, string> = {};
    for (const [k, v] of Object.entries(example.config as Record<string, unknown>)) values[k] = typeof v === 'string' ? v : JSON.stringify(v);
    for (const k of SECRET_KEYS) values[`haven:${k}`] = baseConfig()[`haven:${k}`];
    pulumi.runtime.setAllConfig(values, SECRET_KEYS.map((k) => `haven:${k}`));
    const cfg = readStackConfig();
    expect(cfg.domains).toEqual(['example.com', 'example.org']);
    expect(cfg.adminSourceIps).toEqual(['198.51.100.7/32']);
    expect(cfg.pop3).toBe(false);
    expect(cfg.spfExtra).toEqual(['include:spf.relay.example']);
  });

  it('takes Cloudflare Access settings only as a checked pair', () => {
    const set = (extra: Record<string, string>) => pulumi.runtime.setAllConfig({ ...baseConfig(), ...extra }, SECRET_KEYS.map((k) => `haven:${k}`));
    const aud = 'a1b2c3d4'.repeat(8);
    set({ 'haven:accessAud': aud, 'haven:accessTeam': 'myteam' });
    expect(readStackConfig()).toMatchObject({ accessAud: aud, accessTeam: 'myteam' });
    set({ 'haven:accessAud': aud });
    expect(() => readStackConfig()).toThrow(/accessAud and haven:accessTeam go together/);
    set({ 'haven:accessTeam': 'myteam' });
    expect(() => readStackConfig()).toThrow(/go together/);
    set({ 'haven:accessAud': 'not-a-tag', 'haven:accessTeam': 'myteam' });
    expect(() => readStackConfig()).toThrow(/not an Access audience tag/);
  });

  it('takes the DMARC policies the node accepts, with the same default', () => {
    const set = (extra: Record<string, string>) => pulumi.runtime.setAllConfig({ ...baseConfig(), ...extra }, SECRET_KEYS.map((k) => `haven:${k}`));
    for (const p of DMARC_POLICIES) {
      set({ 'haven:dmarcPolicy': p });
      expect(readStackConfig().dmarcPolicy).toBe(p);
    }
    const dflt = baseConfig();
    delete dflt['haven:dmarcPolicy'];
    pulumi.runtime.setAllConfig(dflt, SECRET_KEYS.map((k) => `haven:${k}`));
    expect(readStackConfig().dmarcPolicy).toBe(DEFAULT_DMARC_POLICY);
    set({ 'haven:dmarcPolicy': 'strict' });
    expect(() => readStackConfig()).toThrow('haven:dmarcPolicy "strict" is not a DMARC policy: one of none, quarantine, reject: e.g. `pulumi config set haven:dmarcPolicy quarantine`');
  });

  it('refuses an empty adminSourceIps: `pulumi up` configures the server over SSH', () => {
    pulumi.runtime.setAllConfig({ ...baseConfig(), 'haven:adminSourceIps': '[]' }, SECRET_KEYS.map((k) => `haven:${k}`));
    expect(() => readStackConfig()).toThrow(/haven:adminSourceIps is empty: `pulumi up` configures the server over SSH/);
    pulumi.runtime.setAllConfig({ ...baseConfig(), 'haven:adminSourceIps': JSON.stringify(['198.51.100.7']) }, SECRET_KEYS.map((k) => `haven:${k}`));
    expect(readStackConfig().adminSourceIps).toEqual(['198.51.100.7/32']);
  });

  it('refuses an spfExtra entry that is not an SPF mechanism', () => {
    for (const bad of ['+all', 'include:a b', 'v=spf1', 'redirect=_spf.example']) {
      pulumi.runtime.setAllConfig({ ...baseConfig(), 'haven:spfExtra': JSON.stringify([bad]) }, SECRET_KEYS.map((k) => `haven:${k}`));
      expect(() => readStackConfig(), bad).toThrow(/spfExtra/);
    }
  });
});

describe('loading', () => {
  it('the program loads under `node --import tsx`, as Pulumi.yaml has Pulumi run it', async () => {
    const config = Object.fromEntries(required.map((k) => [`haven:${k}`, baseConfig()[`haven:${k}`]]));
    const script = "import('./infra/index.ts').then(() => { console.log('program loaded'); process.exit(0); }, (e) => { console.error(e); process.exit(3); })";
    // Without an engine the program cannot finish (Pulumi then reports leaked promises and exits non-zero);
    // what matters here is that the module graph loaded.
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      env: { ...process.env, PULUMI_CONFIG: JSON.stringify(config) },
    }).catch((err: { stdout: string; stderr: string }) => err);
    expect(stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|SyntaxError|ERR_UNKNOWN_FILE_EXTENSION/);
    expect(stdout).toContain('program loaded');
  });
});
