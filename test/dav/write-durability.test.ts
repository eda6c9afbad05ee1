/**
 * A PUT's 201 (and a DELETE's 204) means the object is stored (RFC 4791 §5.3.2; RFC 4918 §9.7.1:
 * "the server MUST create ... the resource"), and Haven's rule that nothing
 * acknowledged is lost. The PUT's commit is fsynced off the event loop and
 * group-committed with the PUTs that arrive meanwhile, so the reply must wait
 * for that fsync. The DAV server runs in a child process; six clients PUT
 * events, every 201 and its ETag is recorded, the process is killed with
 * SIGKILL mid-burst, and the reopened store must hold every acknowledged
 * object with the ETag its 201 carried (RFC 4791 §5.3.4: a strong ETag that
 * names exactly the stored representation). And a node fenced while the
 * fsync ran (another node became the primary) must not answer 201 for it.
 */
import http from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { addDbObserver, setWriteGate } from '../../node/store/db.js';
import { runChild } from '../helpers/child.js';
import { addAccount, makeTestStore, type TestStore } from '../helpers/store.js';
import { ALICE, ALICE_CAL, basic, dav, putAs, startHarness } from './helpers.js';
import { connectionRefused } from '../helpers/ports.js';

let t: TestStore;
beforeEach(() => {
  t = makeTestStore();
});
afterEach(() => t.cleanup());

const event = (name: string) =>
  ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Haven test//EN', 'BEGIN:VEVENT', `UID:${name}@example.test`, 'DTSTAMP:20260101T000000Z', 'DTSTART:20260105T100000Z', 'DTEND:20260105T110000Z', `SUMMARY:${name}`, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');

function put(agent: http.Agent, port: number, name: string): Promise<{ status: number; etag?: string }> {
  const body = event(name);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, agent, method: 'PUT', path: `/dav/calendars/${ALICE.address}/default/${name}.ics`, headers: { Authorization: basic(ALICE), 'Content-Type': 'text/calendar; charset=utf-8', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, etag: res.headers.etag }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

it('RFC 4791 §5.3.2: every PUT answered 201 is stored, with the ETag it was answered with, after the node is killed with SIGKILL', async () => {
  await addAccount(t.store, ALICE.address, ALICE.password);
  t.store.close();
  const child = runChild(join(import.meta.dirname, 'fixtures', 'dav-child.ts'), [t.dataDir, t.masterKey.toString('hex')]);
  const line = await child.waitFor((l) => l.startsWith('PORT ') || l.startsWith('__exit__'));
  expect(line).toMatch(/^PORT \d+ PID \d+$/);
  const [, port, pid] = /^PORT (\d+) PID (\d+)$/.exec(line)!.map(Number);
  // The process we kill is the one that serves DAV (not a wrapper around it).
  expect(pid).toBe(child.proc.pid);

  const acked = new Map<string, string>();
  const KILL_AFTER = 120;
  let killed = false;
  let killedAt = 0;
  const worker = async (w: number) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; !killed; i++) {
        const name = `durable-${w}-${i}`;
        let r: { status: number; etag?: string };
        try {
          r = await put(agent, port, name);
        } catch {
          return; // the node died under us
        }
        expect(r.status).toBe(201);
        acked.set(name, r.etag!);
        if (acked.size >= KILL_AFTER && !killed) {
          killed = true;
          killedAt = acked.size;
          await child.kill();
        }
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all([0, 1, 2, 3, 4, 5].map(worker));
  await child.kill();
  expect(killed).toBe(true);
  expect(child.proc.signalCode).toBe('SIGKILL');
  expect(await connectionRefused(port)).toBe(true);
  // Other clients were mid-request when the kill came; none of them got a 201 after it.
  expect(acked.size).toBeLessThanOrEqual(killedAt + 6);

  const store = t.reopen();
  const lease = await store.authenticate(ALICE.address, ALICE.password);
  try {
    const cal = lease.mailbox.dav.collection('calendar', 'default')!;
    const stored = new Map(lease.mailbox.dav.objects(cal.id).map((o) => [o.name.replace(/\.ics$/, ''), o.etag]));
    const lost = [...acked].filter(([name, etag]) => stored.get(name) !== etag);
    expect(lost).toEqual([]);
  } finally {
    lease.release();
  }
}, 60_000);

/**
 * Once armed, fences the node the moment the next transaction commits, before
 * its fsync has run: every write is refused from then on, that one's
 * acknowledgement included.
 */
function fenceAtNextCommit(dataDir: string) {
  let armed = false;
  let fenced = false;
  const unobserve = addDbObserver({ opened: () => undefined, closing: () => undefined, committed: () => void (fenced ||= armed) });
  const ungate = setWriteGate(dataDir, () => (fenced ? 'another node is the primary now' : null));
  return {
    arm: () => void (armed = true),
    get fenced() {
      return fenced;
    },
    release() {
      ungate();
      unobserve();
    },
  };
}

it('RFC 4791 §5.3.2: the 201 waits for the commit to be durable; a node fenced between commit and fsync answers 503, not 201', async () => {
  const h = await startHarness();
  const fence = fenceAtNextCommit(h.t.dataDir);
  try {
    // The mailbox opened and its calendars made before the test arms the fence.
    expect((await dav(h, 'PROPFIND', ALICE_CAL, { headers: { Depth: '0' } })).status).toBe(207);
    fence.arm();
    const r = await putAs(h, `${ALICE_CAL}fenced.ics`, event('fenced'));
    expect(fence.fenced).toBe(true);
    expect(r.status).toBe(503);
    expect(r.headers.get('etag')).toBeNull();
  } finally {
    fence.release();
    await h.close();
  }
});

it('RFC 4918 §9.6: the 204 of a DELETE waits for the commit to be durable; a node fenced between commit and fsync answers 503, not 204', async () => {
  const h = await startHarness();
  const fence = fenceAtNextCommit(h.t.dataDir);
  try {
    expect((await putAs(h, `${ALICE_CAL}doomed.ics`, event('doomed'))).status).toBe(201);
    fence.arm();
    const r = await dav(h, 'DELETE', `${ALICE_CAL}doomed.ics`);
    expect(fence.fenced).toBe(true);
    expect(r.status).toBe(503);
  } finally {
    fence.release();
    await h.close();
  }
});

it('RFC 4918 §9.6 with RFC 6578 §3.2: DELETEs from several clients at once are each answered 204 once durable, and sync-collection reports every one removed', async () => {
  const h = await startHarness();
  try {
    const names = Array.from({ length: 12 }, (_, i) => `gone-${i}`);
    for (const n of names) expect((await putAs(h, `${ALICE_CAL}${n}.ics`, event(n))).status).toBe(201);
    const sync = (token: string) =>
      dav(h, 'REPORT', ALICE_CAL, { body: `<D:sync-collection xmlns:D="DAV:"><D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`, headers: { 'Content-Type': 'application/xml' } });
    const first = (await sync('')).text;
    const token = /<[^>]*sync-token>([^<]+)</.exec(first)![1];
    const statuses = await Promise.all(names.map((n) => dav(h, 'DELETE', `${ALICE_CAL}${n}.ics`).then((r) => r.status)));
    expect(statuses).toEqual(names.map(() => 204));
    const after = await sync(token);
    expect(after.status).toBe(207);
    // §3.5.2: a removed member comes back as a response with its href and a 404 status.
    const removed = after.text
      .split(/<[A-Za-z0-9]*:?response>/)
      .filter((r) => /HTTP\/1\.1 404/.test(r))
      .map((r) => /([^/<>]+)\.ics<\/[A-Za-z0-9]*:?href>/.exec(r)?.[1]);
    expect(removed.sort()).toEqual([...names].sort());
  } finally {
    await h.close();
  }
});
