/**
 * @module edge/hash-password
 * Prints an ADMIN_PASSWORD_HASH for the edge's admin login.
 *
 *     npx tsx edge/hash-password.ts                 # asks for the password (not echoed)
 *     printf %s "$PASSWORD" | npx tsx edge/hash-password.ts
 *
 * Then: `pulumi config set --secret haven:adminPasswordHash '<output>'` (or
 * `wrangler secret put ADMIN_PASSWORD_HASH`).
 */
import { stdin, stdout, stderr, exit } from 'node:process';
import { hashPassword } from './auth/password.js';

async function readPassword(): Promise<string> {
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  stderr.write('Admin password (not shown): ');
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  let text = '';
  return new Promise((resolve, reject) => {
    stdin.on('data', (ch: string) => {
      for (const c of ch) {
        if (c === '\r' || c === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          stderr.write('\n');
          resolve(text);
          return;
        }
        if (c === '\u0003') reject(new Error('cancelled'));
        else if (c === '\u007f') text = text.slice(0, -1);
        else text += c;
      }
    });
  });
}

try {
  const password = await readPassword();
  stdout.write((await hashPassword(password)) + '\n');
} catch (err) {
  stderr.write(`${(err as Error).message}\n`);
  exit(1);
}
