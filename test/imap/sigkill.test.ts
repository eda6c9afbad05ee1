/**
 * Durability of what IMAP acknowledges: a server in a child process takes
 * APPENDs and STOREs from three sessions at once (their commits fsynced off
 * the event loop and shared), and is killed with SIGKILL mid-stream. After
 * reopening the store, every APPEND that got OK is there byte for byte and
 * every STORE that got OK holds.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { Store } from '../../node/store/index.js';
import { addAccount, makeTestStore, type TestStore } from '../helpers/store.js';

let t: TestStore;
afterAll(() => t?.cleanup());

function message(session: number, n: number): Buffer {
  return Buffer.from(`Subject: kill ${session}-${n}\r\nMessage-ID: <k${session}-${n}@x>\r\n\r\n${'body line\r\n'.repeat(20 + n)}`);
}

describe('SIGKILL while sessions APPEND and STORE', () => {
  it('keeps every acknowledged APPEND and STORE', async () => {
    t = makeTestStore({ keyMode: 'managed' });
    const acct = await addAccount(t.store);
    t.store.close();
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'imap-child.ts')], {
      env: { ...process.env, HAVEN_TEST_DATA_DIR: t.dataDir, HAVEN_TEST_MASTER_KEY: t.masterKey.toString('hex') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    let port = 0;
    for await (const line of createInterface({ input: child.stdout! })) {
      const m = /^READY (\d+)$/.exec(line);
      if (m) {
        port = Number(m[1]);
        break;
      }
    }
    expect(port).toBeGreaterThan(0);

    /** APPENDUID -> raw bytes, for every APPEND answered OK; UIDs whose \Flagged STORE was answered OK. */
    const appended = new Map<number, Buffer>();
    const flagged = new Set<number>();
    let acknowledged = 0;
    let killed = false;
    const killAt = 60;
    const sessions = [0, 1, 2].map(async (k) => {
      const s = net.connect(port, '127.0.0.1');
      let buf = '';
      const waiters: (() => void)[] = [];
      s.on('data', (d) => {
        buf += d.toString('latin1');
        for (const w of waiters.splice(0)) w();
      });
      s.on('error', () => undefined);
      s.on('close', () => {
        for (const w of waiters.splice(0)) w();
      });
      const reply = async (tag: string): Promise<string | null> => {
        const re = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r]*\\r\\n`);
        for (;;) {
          const m = re.exec(buf);
          if (m) {
            buf = buf.slice(m.index + m[0].length);
            return m[0].trim();
          }
          if (s.destroyed || s.readableEnded) return null;
          await new Promise<void>((r) => waiters.push(r));
        }
      };
      s.write(`l LOGIN ${acct.address} "${acct.password}"\r\ns SELECT INBOX\r\n`);
      if (!(await reply('l'))?.includes('OK') || !(await reply('s'))?.includes('OK')) return;
      for (let n = 0; !killed; n++) {
        const m = message(k, n);
        s.write(Buffer.concat([Buffer.from(`a${n} APPEND INBOX {${m.length}+}\r\n`), m, Buffer.from('\r\n')]));
        const r = await reply(`a${n}`);
        if (!r) return;
        const uid = Number(/APPENDUID \d+ (\d+)/.exec(r)?.[1]);
        appended.set(uid, m);
        s.write(`f${n} UID STORE ${uid} +FLAGS.SILENT (\\Flagged)\r\n`);
        const f = await reply(`f${n}`);
        if (!f) return;
        if (f.includes('OK')) flagged.add(uid);
        if (++acknowledged >= killAt && !killed) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
      s.destroy();
    });
    await Promise.all(sessions);
    await exited;
    expect(appended.size).toBeGreaterThanOrEqual(killAt);

    const store = Store.open({ dataDir: t.dataDir, masterKey: t.masterKey, keyMode: 'managed' });
    try {
      const lease = await store.openMailbox(acct.account.id);
      const inbox = lease.mailbox.folders.require('INBOX').id;
      for (const [uid, raw] of appended) {
        const m = lease.mailbox.messages.get(inbox, uid);
        expect(m, `UID ${uid} was acknowledged`).not.toBeNull();
        expect(lease.mailbox.messages.raw(m!.blobId).equals(raw)).toBe(true);
        if (flagged.has(uid)) expect(m!.flags).toContain('\\Flagged');
      }
      lease.release();
    } finally {
      store.close();
      t.store = store;
    }
  });
});
