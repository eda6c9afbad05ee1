/**
 * @module test/infra/program-standby-swap
 * After a failover the operator sets haven:primaryLocation to the promoted
 * node's location (docs/deploy.md): the program then gives that node
 * `role: primary`, the other `role: standby`, assigns the Floating IPs to the
 * promoted server and points the Worker's STANDBY_URL at the old primary.
 * Also the stack settings a standby refuses, each with the fix.
 */
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readStackConfig, StackConfigError } from '../../infra/config.js';
import { baseConfig, extractBundle, installMocks, type MockWorld, reveal, runProgram, SECRETS, STANDBY, valueOf } from './harness.js';

const SECRET_KEYS = [...Object.keys(SECRETS), 'failoverHetznerToken'].map((k) => `haven:${k}`);
const standbyConfig = (extra: Record<string, string> = {}) => baseConfig({ 'haven:standby': 'true', 'haven:standbyLocation': 'nbg1', 'haven:failoverHetznerToken': 'hcloud-token', ...extra });

let world: MockWorld;
let program: typeof import('../../infra/index.js');

beforeAll(async () => {
  world = await installMocks(standbyConfig({ 'haven:primaryLocation': 'nbg1' }), SECRET_KEYS);
  program = await runProgram();
});

describe('haven:primaryLocation names the promoted node', () => {
  it('the node in nbg1 is told it is primary, the one in fsn1 that it is a standby', async () => {
    const role = async (name: string) => parseYaml((await extractBundle(world.one('command:remote:Command', name).inputs.stdin)).get('/etc/haven/haven.yaml')!.content).role;
    expect(await role('haven-standby-config')).toBe('primary');
    expect(await role('haven-config')).toBe('standby');
  });

  it('the Floating IPs are assigned to the promoted server, and the Worker promotes the old primary next time', async () => {
    const a = world.byType('hcloud:index/floatingIpAssignment:FloatingIpAssignment');
    expect(a.map((r) => r.inputs.serverId)).toEqual([Number(STANDBY.serverId), Number(STANDBY.serverId)]);
    const bindings = reveal(world.one('cloudflare:index/workersScript:WorkersScript').raw.bindings) as { name: string; text?: string }[];
    expect(bindings.find((b) => b.name === 'STANDBY_URL')?.text).toBe('https://fsn1.mail.example.com');
    expect(await valueOf(program.ssh)).toBe(`ssh root@${STANDBY.ipv4}`);
  });

  it('nothing is rebuilt: both servers keep their locations and bootstrap', () => {
    const servers = Object.fromEntries(world.byType('hcloud:index/server:Server').map((r) => [r.name, r.inputs.location]));
    expect(servers).toEqual({ 'haven-server': 'fsn1', 'haven-standby-server': 'nbg1' });
  });
});

describe('stack settings a standby refuses, each naming the fix', () => {
  const read = (extra: Record<string, string>, base = standbyConfig()) => {
    pulumi.runtime.setAllConfig({ ...base, ...extra }, SECRET_KEYS);
    return () => readStackConfig();
  };

  it('no standby location, or the primary\'s own', () => {
    expect(read({ 'haven:standbyLocation': '' })).toThrow(/standbyLocation is empty.*pulumi config set haven:standbyLocation nbg1/);
    expect(read({ 'haven:standbyLocation': 'fsn1' })).toThrow(/the primary's location/);
  });

  it('a location in another network zone: Hetzner assigns a Floating IP only within its zone', () => {
    expect(read({ 'haven:standbyLocation': 'ash' })).toThrow(StackConfigError);
    expect(read({ 'haven:standbyLocation': 'ash' })).toThrow(/network zone us-east.*fsn1, nbg1, hel1/);
    expect(read({ 'haven:standbyLocation': 'hel1' })().standbyLocation).toBe('hel1');
  });

  it('no Hetzner token for the reassignment', () => {
    expect(read({ 'haven:failoverHetznerToken': '' })).toThrow(/failoverHetznerToken is empty.*Read & Write/);
  });

  it('a primaryLocation that is neither node\'s, or set without a standby', () => {
    expect(read({ 'haven:primaryLocation': 'hel1' })).toThrow(/must be haven:location \(fsn1\) or haven:standbyLocation \(nbg1\)/);
    expect(read({ 'haven:primaryLocation': 'nbg1' }, baseConfig())).toThrow(/haven:standby is off.*pulumi config rm haven:primaryLocation/);
  });

  it('a failover delay the once-a-minute probe cannot honour', () => {
    expect(read({ 'haven:failoverAfterSeconds': '30' })).toThrow(/at least 60/);
    expect(read({ 'haven:failoverAfterSeconds': '600' })().failoverAfterSeconds).toBe(600);
  });

  it('without standby nothing of it is read: the defaults are a single node', () => {
    const cfg = read({}, baseConfig())();
    expect({ standby: cfg.standby, standbyLocation: cfg.standbyLocation, primaryLocation: cfg.primaryLocation }).toEqual({ standby: false, standbyLocation: '', primaryLocation: 'fsn1' });
  });
});
