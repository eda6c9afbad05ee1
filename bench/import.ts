/**
 * @module bench/import
 * haven import's throughput from a local Dovecot (Debian dovecot-imapd):
 * a throwaway Dovecot serves N messages of about 10 KB from a Maildir, the
 * import job pulls them over loopback IMAP into a fresh encrypted mailbox in
 * this process, and the bench prints messages per second, MB/s and this
 * process's peak RSS (VmHWM). Target (issue 18): at least 500 messages/s
 * for 10 KB messages; RSS stays bounded whatever the mailbox size, since
 * the job holds two FETCH chunks (4 MB each at most) and one batch at a time.
 *
 *   npm run bench -- import [--messages 5000] [--kb 10]
 *   npm run bench -- import --messages 1000 --kb 200   (a 200 MB mailbox: RSS stays flat)
 */
import { parseArgs } from 'node:util';
import { jobEnded, startJob } from '../node/transfer/index.js';
import { addAccount, makeTestStore } from '../test/helpers/store.js';
import { dovecotAvailable, startDovecot } from './lib/dovecot.js';
import { peakRssMb } from './lib/rss.js';

const { values: args } = parseArgs({ options: { messages: { type: 'string', default: '5000' }, kb: { type: 'string', default: '10' } } });
const COUNT = Number(args.messages);
const KB = Number(args.kb);

function message(i: number): Buffer {
  const head = [`From: Sender ${i} <sender${i}@example.net>`, 'To: alice@example.test', `Subject: Import benchmark ${i}`, 'Date: Sat, 28 Nov 2026 10:00:00 +0000', `Message-ID: <import-${i}@example.net>`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=us-ascii', ''];
  const line = `${i} `.padEnd(76, 'abcdefghijklmnopqrstuvwxyz0123456789 ');
  return Buffer.from([...head, ...Array.from({ length: Math.round((KB * 1024) / 78) }, () => line), ''].join('\r\n'));
}

if (!dovecotAvailable('imap')) {
  console.error('dovecot-imapd is not installed (apt-get install dovecot-imapd): no source to import from');
  process.exit(2);
}
// Generated one at a time into Dovecot's Maildir, so this process never holds the mailbox.
let totalBytes = 0;
const dovecot = await startDovecot(
  'imap',
  (function* () {
    for (let i = 0; i < COUNT; i++) {
      const m = message(i);
      totalBytes += m.length;
      yield m;
    }
  })(),
);
const t = makeTestStore();
try {
  const password = 'bench account password';
  await addAccount(t.store, 'alice@example.test', password);
  // RSS while the import runs (VmHWM would include the messages this bench generated for Dovecot).
  const rssStart = process.memoryUsage().rss;
  let rssPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
  const started = performance.now();
  const job = await startJob(t.store, {
    kind: 'import',
    address: 'alice@example.test',
    password,
    source: { type: 'imap', host: '127.0.0.1', port: dovecot.port, secure: false, user: dovecot.user, password: dovecot.pass, insecure: true },
  });
  const v = await jobEnded(t.store, job.id);
  const s = (performance.now() - started) / 1000;
  clearInterval(sampler);
  if (v.progress.phase !== 'done') throw new Error(`import ${v.progress.phase}: ${v.progress.error}`);
  if (v.progress.messages !== COUNT) throw new Error(`imported ${v.progress.messages} of ${COUNT}`);
  console.log(`dovecot ${dovecot.version}, ${COUNT} messages of ~${KB} KB (${(totalBytes / 1_048_576).toFixed(1)} MB)`);
  console.log(`import: ${(COUNT / s).toFixed(0)} messages/s, ${(totalBytes / 1_048_576 / s).toFixed(1)} MB/s, ${s.toFixed(1)} s`);
  console.log(`RSS during the import: ${(rssStart / 1_048_576).toFixed(0)} MB at the start, peak ${(rssPeak / 1_048_576).toFixed(0)} MB (sampled every 50 ms; process VmHWM ${peakRssMb(process.pid).toFixed(0)} MB)`);
} finally {
  dovecot.stop();
  t.cleanup();
}
