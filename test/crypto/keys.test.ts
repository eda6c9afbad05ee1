import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DecryptError,
  generateBoxKeyPair,
  loadMasterKey,
  MasterKeyError,
  newAppPassword,
  newRecoveryKey,
  normalizeSecret,
  openSealed,
  sealTo,
  unwrapKey,
  wrapKey,
} from '../../node/crypto/index.js';

describe('key wrapping', () => {
  it('unwraps with the right secret for every kind and refuses a wrong one', async () => {
    const key = randomBytes(32);
    for (const kind of ['password', 'app', 'recovery'] as const) {
      const w = await wrapKey(kind, 'the right secret', key);
      expect(await unwrapKey(w, 'the right secret')).toEqual(key);
      await expect(unwrapKey(w, 'the wrong secret')).rejects.toBeInstanceOf(DecryptError);
    }
    const master = randomBytes(32);
    const w = await wrapKey('master', master, key);
    expect(await unwrapKey(w, master)).toEqual(key);
    await expect(unwrapKey(w, randomBytes(32))).rejects.toBeInstanceOf(DecryptError);
  });

  it('binds a wrap to its kind: an app wrap relabelled as recovery does not open', async () => {
    const key = randomBytes(32);
    const w = await wrapKey('app', 'abc', key);
    await expect(unwrapKey({ ...w, kind: 'recovery' }, 'abc')).rejects.toBeInstanceOf(DecryptError);
  });

  it('uses scrypt for passwords and HKDF for generated secrets', async () => {
    const key = randomBytes(32);
    expect((await wrapKey('password', 'pw', key)).kdf.alg).toBe('scrypt');
    expect((await wrapKey('app', 'pw', key)).kdf.alg).toBe('hkdf');
  });
});

describe('sealed box', () => {
  it('round-trips and fails for another recipient or a flipped byte', () => {
    const alice = generateBoxKeyPair();
    const mallory = generateBoxKeyPair();
    const msg = Buffer.from('Subject: secret\r\n\r\nhello');
    const box = sealTo(alice.publicKey, msg);
    expect(box.includes(Buffer.from('secret'))).toBe(false);
    expect(openSealed(alice, box)).toEqual(msg);
    expect(() => openSealed(mallory, box)).toThrow(DecryptError);
    const bad = Buffer.from(box);
    bad[bad.length - 20] ^= 1;
    expect(() => openSealed(alice, bad)).toThrow(DecryptError);
  });

  it('uses a fresh ephemeral key per message', () => {
    const alice = generateBoxKeyPair();
    const a = sealTo(alice.publicKey, Buffer.from('x'));
    const b = sealTo(alice.publicKey, Buffer.from('x'));
    expect(a.subarray(1, 33).equals(b.subarray(1, 33))).toBe(false);
  });
});

describe('master key', () => {
  it('generates a 0600 key file only when allowed, then reuses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'haven-mk-'));
    const file = join(dir, 'master.key');
    expect(() => loadMasterKey({ localFile: file, allowGenerate: false })).toThrow(MasterKeyError);
    const a = loadMasterKey({ localFile: file, allowGenerate: true });
    expect(a.origin).toBe('generated');
    expect(a.warning).toMatch(/production/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const b = loadMasterKey({ localFile: file, allowGenerate: true });
    expect(b.origin).toBe('local-file');
    expect(b.key).toEqual(a.key);
    expect(readFileSync(file, 'utf8').trim()).toBe(a.key.toString('hex'));
  });

  it('prefers the environment and rejects a short key with what to do', () => {
    const hex = randomBytes(32).toString('hex');
    expect(loadMasterKey({ value: hex, localFile: '/nonexistent', allowGenerate: false }).key.toString('hex')).toBe(hex);
    expect(() => loadMasterKey({ value: 'abcd', localFile: '/nonexistent', allowGenerate: false })).toThrow(/openssl rand -hex 32/);
  });
});

describe('generated secrets', () => {
  it('are grouped, unambiguous and normalize for typing', () => {
    const r = newRecoveryKey();
    expect(r).toMatch(/^([a-z2-9]{4}-){7}[a-z2-9]{4}$/);
    expect(r).not.toMatch(/[ilo01]/);
    expect(normalizeSecret(r.toUpperCase().replace(/-/g, ' '))).toBe(r.replace(/-/g, ''));
    expect(newAppPassword()).toMatch(/^([a-z2-9]{5}-){3}[a-z2-9]{5}$/);
  });
});
