/**
 * The verification worker from compiled JavaScript, as a release runs it
 * (dist/, no tsx): the verifier and its worker entry are compiled with the
 * project's tsconfig, then a plain `node` with no loader verifies a message,
 * which works only if the worker found its `.js` sibling. SPF per RFC 7208
 * §2.6.1 ("pass": the client IP is authorised by the sender's record).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'haven-verify-build-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('verifies a message on a worker started from the compiled .js files, with no TypeScript loader', async () => {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(root, 'tsconfig.json'),
      compilerOptions: { noEmit: false, outDir: join(dir, 'out'), rootDir: root, typeRoots: [join(root, 'node_modules', '@types')] },
      files: [join(root, 'node/smtp/verify.ts'), join(root, 'node/smtp/verify/worker.ts')],
      include: [],
    }),
  );
  await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')]);
  // What a release has beside dist/: its package.json (ESM) and node_modules.
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(
    join(dir, 'check.mjs'),
    `import { verifyMessage, verifyThread } from './out/node/smtp/verify.js';
const resolver = async (name, type) => {
  if (name === 'sender.test' && type === 'TXT') return [['v=spf1 ip4:192.0.2.7 -all']];
  throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
};
const raw = Buffer.from('From: a@sender.test\\r\\nTo: b@example.test\\r\\nSubject: hi\\r\\n\\r\\nhello\\r\\n');
const v = await verifyMessage({ raw, ip: '192.0.2.7', helo: 'mta.sender.test', mailFrom: 'a@sender.test', hostname: 'mx.example.test', resolver });
console.log(JSON.stringify({ spf: v.result.spf.status.result, started: verifyThread.started }));
await verifyThread.stop();
`,
  );
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const { stdout } = await run(process.execPath, [join(dir, 'check.mjs')], { cwd: dir, env });
  expect(JSON.parse(stdout)).toMatchObject({ spf: 'pass', started: 1 });
}, 120_000);
