/**
 * SEARCH over mail the full-text indexer has not reached yet (issue #20: new
 * mail's index rows are written in batches after the 250). RFC 9051 §6.4.4:
 * BODY and TEXT match "messages that contain the specified string" in the
 * body, or in the header or body; SUBJECT in the Subject field; matching is
 * case-insensitive on substrings. Real clients: nodemailer delivers to the MX,
 * imapflow searches. The index's state is read from the store beside the
 * searches, to show which side of the indexer each answer came from.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../node/config/index.js';
import { startNode, type NodeHandle } from '../../node/main.js';
import { startTestDns, type TestDns } from '../helpers/dns-server.js';
import { NODE_CHILD_ACCOUNTS, startNodeChild } from '../helpers/node-child.js';

const { address: ALICE, password: PASSWORD } = NODE_CHILD_ACCOUNTS.alice;
/** The indexer held back: by a batch nobody reaches and an hour's delay. */
const HELD = { search: { indexBatch: 100_000, indexDelayMs: 3_600_000 } };

let dir: string;
let dns: TestDns;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'haven-search-unindexed-'));
  dns = await startTestDns();
});
afterAll(async () => {
  await dns?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function imap(port: number, ca: Buffer): Promise<ImapFlow> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: ALICE, pass: PASSWORD }, tls: { ca, servername: 'localhost' }, logger: false });
  client.on('error', () => undefined); // the SIGKILL case drops the connection under it
  await client.connect();
  await client.mailboxOpen('INBOX');
  return client;
}

async function deliver(port: number, ca: Buffer, subject: string, text: string): Promise<void> {
  const mx = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, tls: { ca, servername: 'localhost' } });
  const info = await mx.sendMail({ from: 'someone@outside.test', to: ALICE, subject, text });
  expect(info.response).toMatch(/^250 /);
}

/** A NOOP, so the session has announced the new mail (RFC 9051 §7.4.1 EXISTS) before the client searches it. */
async function seen(client: ImapFlow, exists: number): Promise<void> {
  await client.noop();
  expect(client.mailbox && client.mailbox.exists).toBe(exists);
}

/** How many of alice's messages wait for the indexer, read through the node's own store. */
async function unindexed(node: NodeHandle): Promise<number> {
  const lease = await node.store.authenticate(ALICE, PASSWORD);
  try {
    return lease.mailbox.search.unindexedCount();
  } finally {
    lease.release();
  }
}

/** Polls a condition on the node (each check a turn of the event loop): waits on the state, not on a time. */
async function until(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; !(await cond()); i++) {
    if (i > 2000) throw new Error('condition never held');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** imapflow's answer to a UID SEARCH: the UIDs, sorted; false (or nothing) means the command failed. */
function uids(r: number[] | false | undefined): number[] {
  if (!r) throw new Error('SEARCH failed');
  return [...r].sort((a, b) => a - b);
}

async function startLocal(dataDir: string, config: Record<string, unknown> = {}): Promise<{ node: NodeHandle; ca: Buffer }> {
  const node = await startNode(testConfig(dataDir, { dnsbl: [], ...config }), { resolver: dns.resolver, adminUi: false });
  return { node, ca: readFileSync(node.certificate.certFile) };
}

describe('SEARCH right after the 250 (RFC 9051 §6.4.4)', () => {
  it('finds mail delivered over SMTP before the indexer ran, and from the index after it ran', async () => {
    // A batch of two: the first message waits (the delay is an hour), the second sets the indexer off.
    const { node, ca } = await startLocal(join(dir, 'live'), { search: { indexBatch: 2, indexDelayMs: 3_600_000 } });
    try {
      node.store.directory.addDomain('example.org');
      await node.store.createAccount(ALICE, PASSWORD);
      const client = await imap(node.ports.imap!, ca);
      try {
        await deliver(node.ports.smtp!, ca, 'Quarterly xylophone report', 'The marmalade budget is final.');
        await seen(client, 1);
        expect(await unindexed(node)).toBe(1);
        expect(uids(await client.search({ body: 'MARMALADE budget' }, { uid: true }))).toEqual([1]);
        expect(uids(await client.search({ text: 'xylophone rep' }, { uid: true }))).toEqual([1]);
        expect(uids(await client.search({ subject: 'LOPHONE' }, { uid: true }))).toEqual([1]);
        // Under three characters there is no trigram to look up: a scan either way.
        expect(uids(await client.search({ body: 'lA' }, { uid: true }))).toEqual([1]);
        // BODY does not look in the header, SUBJECT not in the body.
        expect(uids(await client.search({ body: 'xylophone' }, { uid: true }))).toEqual([]);
        expect(uids(await client.search({ subject: 'marmalade' }, { uid: true }))).toEqual([]);
        // The answers came before the indexer: the message still waits.
        expect(await unindexed(node)).toBe(1);

        await deliver(node.ports.smtp!, ca, 'Second note', 'Nothing about jam here.');
        await until(async () => (await unindexed(node)) === 0);
        await seen(client, 2);
        expect(uids(await client.search({ body: 'MARMALADE budget' }, { uid: true }))).toEqual([1]);
        expect(uids(await client.search({ text: 'xylophone rep' }, { uid: true }))).toEqual([1]);
        expect(uids(await client.search({ subject: 'LOPHONE' }, { uid: true }))).toEqual([1]);
        expect(uids(await client.search({ body: 'jam here' }, { uid: true }))).toEqual([2]);
        expect(uids(await client.search({ body: 'lA' }, { uid: true }))).toEqual([1]);
      } finally {
        await client.logout();
      }
    } finally {
      await node.close();
    }
  });

  it('after SIGKILL between the 250 and the indexer, finds the message at once after restart; the index then catches up', async () => {
    const dataDir = join(dir, 'kill');
    const child = await startNodeChild(dataDir, { config: HELD });
    // alice's client is logged in, so her mailbox is open and the MX delivers into it (not to the sealed spool).
    const client = await imap(child.ports.imap!, child.ca);
    await deliver(child.ports.smtp!, child.ca, 'Kumquat ledger', 'Reconcile the pomegranate accounts.');
    await child.child.kill();
    expect(child.child.proc.signalCode).toBe('SIGKILL');
    client.close();

    // Restarted with the indexer held back: the message was not indexed before the kill, and SEARCH finds it.
    const held = await startLocal(dataDir, HELD);
    try {
      const c = await imap(held.node.ports.imap!, held.ca);
      try {
        expect(await unindexed(held.node)).toBe(1);
        expect(uids(await c.search({ body: 'POMEGRANATE acc' }, { uid: true }))).toEqual([1]);
        expect(uids(await c.search({ subject: 'kumquat' }, { uid: true }))).toEqual([1]);
        expect(await unindexed(held.node)).toBe(1);
      } finally {
        await c.logout();
      }
    } finally {
      await held.node.close();
    }

    // Restarted with the default schedule: the tail found at open is indexed with no new mail.
    const again = await startLocal(dataDir);
    try {
      const c = await imap(again.node.ports.imap!, again.ca);
      try {
        await until(async () => (await unindexed(again.node)) === 0);
        expect(uids(await c.search({ body: 'POMEGRANATE acc' }, { uid: true }))).toEqual([1]);
        expect(uids(await c.search({ text: 'kumquat LEDGER' }, { uid: true }))).toEqual([1]);
      } finally {
        await c.logout();
      }
    } finally {
      await again.node.close();
    }
  }, 90_000); // three node starts, one in a child process
});
