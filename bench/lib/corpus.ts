/**
 * @module bench/lib/corpus
 * Deterministic benchmark mail: message i is always the same bytes, so
 * Haven and Dovecot serve identical mailboxes. Sizes spread from about 1 KB
 * to about 6 KB (mean near 2 KB), plain text of mixed words; one message in
 * a hundred carries the word NEEDLE so full-text search has ~1% hits.
 */
import { rng } from '../../test/helpers/rng.js';

export const NEEDLE = 'xylophonist';

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were ' +
  'meeting budget report quarter project invoice schedule review draft update travel lunch agenda notes contract'
).split(' ');

export function corpusMessage(i: number): Buffer {
  const r = rng(i + 1);
  const date = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toUTCString().replace('GMT', '+0000');
  const words = 150 + Math.floor(r() * r() * 800);
  const body: string[] = [];
  let line = '';
  for (let w = 0; w < words; w++) {
    const word = i % 100 === 7 && w === 40 ? NEEDLE : WORDS[Math.floor(r() * WORDS.length)];
    if (line.length + word.length + 1 > 72) {
      body.push(line);
      line = '';
    }
    line += (line ? ' ' : '') + word;
  }
  body.push(line);
  const head = [
    `From: Sender ${i % 500} <sender${i % 500}@example.net>`,
    'To: bench@example.test',
    `Subject: ${WORDS[i % WORDS.length]} ${WORDS[(i * 7) % WORDS.length]} #${i}`,
    `Date: ${date}`,
    `Message-ID: <corpus-${i}@example.net>`,
    ...(i % 3 === 1 ? [`In-Reply-To: <corpus-${i - 1}@example.net>`, `References: <corpus-${i - 1}@example.net>`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
  ];
  return Buffer.from([...head, ...body, ''].join('\r\n'));
}
