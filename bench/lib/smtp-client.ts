/**
 * @module bench/lib/smtp-client
 * The SMTP side of the ingest benchmarks (smtp, replication): the ~10 KB
 * message they send, and promise wrappers over nodemailer's SMTP connection
 * for one session sending back to back.
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';

/** Message number `i` to `to`: plain text, about 10 KB. */
export function benchMessage(i: number, to: string): Buffer {
  const head = [
    `From: Sender ${i} <sender${i}@sender.test>`,
    `To: ${to}`,
    `Subject: Benchmark message ${i}`,
    'Date: Sat, 28 Nov 2026 10:00:00 +0000',
    `Message-ID: <bench-${i}@sender.test>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
  ];
  const line = `Message ${i}: the quick brown fox jumps over the lazy dog, again and again. `.padEnd(76, '.');
  const body = Array.from({ length: 130 }, () => line);
  return Buffer.from([...head, ...body, ''].join('\r\n'));
}

/** Connects from `localAddress` (any 127.0.0.0/8 address works on Linux: a bench's stand-in for distinct sender IPs). */
export function connect(port: number, localAddress?: string): Promise<SMTPConnection> {
  return new Promise((resolve, reject) => {
    const c = new SMTPConnection({ host: '127.0.0.1', port, ignoreTLS: true, name: 'client.sender.test', logger: false, ...(localAddress ? { localAddress } : {}) });
    c.once('error', reject);
    c.connect(() => resolve(c));
  });
}

/** Sends one message; resolves with the server's final reply. */
export function send(c: SMTPConnection, from: string, to: string, raw: Buffer): Promise<string> {
  return new Promise((resolve, reject) => c.send({ from, to: [to] }, raw, (err, info) => (err ? reject(err) : resolve(info.response))));
}

/** QUIT, resolving once the server has closed the connection. */
export function quit(c: SMTPConnection): Promise<void> {
  return new Promise((resolve) => {
    c.once('end', () => resolve());
    c.quit();
  });
}

export function reset(c: SMTPConnection): Promise<void> {
  return new Promise((resolve, reject) => c.reset((err) => (err ? reject(err) : resolve())));
}

/**
 * A steady load over reused connections: `count` bench messages over
 * `sessions` connections to `port`, message i to `to(i)` and each answered
 * 250 (any other reply throws). Resolves with the seconds it took.
 */
export async function sendLoad(port: number, count: number, sessions: number, to: (i: number) => string): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: sessions }, async () => {
      const c = await connect(port);
      for (;;) {
        const i = next++;
        if (i >= count) break;
        const rcpt = to(i);
        const res = await send(c, `sender${i}@sender.test`, rcpt, benchMessage(i, rcpt));
        if (!res.startsWith('250')) throw new Error(`unexpected reply: ${res}`);
        await reset(c);
      }
      c.quit();
    }),
  );
  return (performance.now() - started) / 1000;
}
