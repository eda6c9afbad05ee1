/**
 * @module test/helpers/node-child
 * A whole node in a child process (node-child-main.ts), for tests that
 * attack it and meanwhile time other clients, read its memory, or SIGKILL
 * it if it ever froze: what the node suffers is its own, not the test
 * runner's. Resolves once the child printed its READY line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ListenerName } from '../../node/main.js';
import { runChild, type Child } from './child.js';
import type { NodeChildOptions } from './node-child-accounts.js';

export { NODE_CHILD_ACCOUNTS, type NodeChildOptions } from './node-child-accounts.js';

export interface NodeChild {
  child: Child;
  ports: Partial<Record<ListenerName, number>>;
  pid: number;
  /** The node's self-signed certificate, for clients to trust. */
  ca: Buffer;
}

export async function startNodeChild(dataDir: string, opts: NodeChildOptions = {}): Promise<NodeChild> {
  const child = runChild(join(import.meta.dirname, 'node-child-main.ts'), [dataDir, JSON.stringify(opts)]);
  const line = await child.waitFor((l) => l.startsWith('READY ') || l.startsWith('__exit__'));
  if (!line.startsWith('READY ')) throw new Error(`the node did not start: ${line}`);
  const info = JSON.parse(line.slice(6)) as { ports: NodeChild['ports']; certFile: string; pid: number };
  return { child, ports: info.ports, pid: info.pid, ca: readFileSync(info.certFile) };
}
