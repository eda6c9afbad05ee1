/**
 * The two-node tests' one user: alice@example.org on a node started in the
 * test, mail to her over the node's SMTP, and her INBOX counted over IMAPS
 * (imapflow), as a client would see it after a failover.
 */
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import type { NodeHandle } from '../../node/main.js';

export const ALICE = 'alice@example.org';
export const ALICE_PASSWORD = 'alice has a long password';

/** Delivers message `n` from bob@example.net to alice over plain SMTP on `port`. */
export async function sendToAlice(port: number, n: number | string, text = `body ${n}`): Promise<void> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  await t.sendMail({ from: 'bob@example.net', to: ALICE, subject: `message ${n}`, text }).finally(() => t.close());
}

/** Alice's INBOX message count over IMAPS on `port` (-1 when STATUS gives none). */
export async function aliceInboxCount(port: number): Promise<number> {
  const c = new ImapFlow({ host: '127.0.0.1', port, secure: true, tls: { rejectUnauthorized: false }, auth: { user: ALICE, pass: ALICE_PASSWORD }, logger: false });
  await c.connect();
  try {
    const s = await c.status('INBOX', { messages: true });
    return s ? (s.messages ?? -1) : -1;
  } finally {
    await c.logout();
  }
}

/** Creates example.org and alice on a primary, delivers `messages` to her and waits until the replica has them. */
export async function seedAlice(primary: NodeHandle, messages: number): Promise<void> {
  await primary.operations.call('domain.add', { name: 'example.org' });
  await primary.operations.call('account.add', { address: ALICE, password: ALICE_PASSWORD });
  for (let i = 0; i < messages; i++) await sendToAlice(primary.ports.smtp!, i);
  await primary.replication!.flush(20_000);
}
