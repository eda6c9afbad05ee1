/**
 * @module test/replication/helpers
 * A real S3-compatible server (s3rver) on loopback that can be stopped and
 * started again on the same port and directory, a filesystem replica, and
 * helpers to read every replica object and compare mailboxes.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
import type { Store } from '../../node/store/index.js';

export interface TestS3 {
  url: string;
  port: number;
  dir: string;
  /** Stops the server now, dropping open connections (an outage). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Every object file s3rver holds (key → bytes). */
  objects(): Map<string, Buffer>;
  cleanup(): Promise<void>;
}

export const S3_BUCKET = 'haven-replica';

export async function startS3(prefix = 'node1'): Promise<TestS3> {
  const dir = mkdtempSync(join(tmpdir(), 'haven-s3-'));
  process.env.HAVEN_REPLICA_ACCESS_KEY_ID = 'S3RVER';
  process.env.HAVEN_REPLICA_SECRET_ACCESS_KEY = 'S3RVER';
  let server: S3rver | null = null;
  let port = 0;
  const run = async () => {
    server = new S3rver({ port, address: '127.0.0.1', silent: !process.env.HAVEN_S3RVER_LOG, directory: dir, configureBuckets: [{ name: S3_BUCKET, configs: [] }] });
    const addr = (await server.run()) as AddressInfo;
    port = addr.port;
  };
  await run();
  const stop = async () => {
    if (!server) return;
    const s = server as unknown as { httpServer: import('node:http').Server; close(): Promise<void> };
    server = null;
    const closed = s.close();
    s.httpServer.closeAllConnections();
    await closed;
  };
  return {
    get url() {
      return `s3://${S3_BUCKET}/${prefix}?endpoint=http://127.0.0.1:${port}&region=us-east-1`;
    },
    get port() {
      return port;
    },
    dir,
    stop,
    start: run,
    objects() {
      const out = new Map<string, Buffer>();
      for (const f of readdirSync(join(dir, S3_BUCKET), { recursive: true }) as string[]) {
        const full = join(dir, S3_BUCKET, f);
        if (statSync(full).isFile() && f.endsWith('._S3rver_object')) out.set(f, readFileSync(full));
      }
      return out;
    },
    async cleanup() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every file under a directory (key → bytes). */
export function filesUnder(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of readdirSync(root, { recursive: true }) as string[]) {
    const full = join(root, f);
    if (statSync(full).isFile()) out.set(f, readFileSync(full));
  }
  return out;
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `haven-${tag}-`));
}

export interface MessageDump {
  folder: string;
  uid: number;
  modseq: number;
  flags: string[];
  internalDate: number;
  raw: string;
}

/** Everything a restore must bring back for one account: folders, UIDs, flags, modseqs, bytes. */
export async function dumpMailbox(store: Store, address: string, password: string): Promise<{ uidValidity: Record<string, number>; highestModseq: number; messages: MessageDump[] }> {
  const lease = await store.authenticate(address, password);
  try {
    const mb = lease.mailbox;
    const messages: MessageDump[] = [];
    const uidValidity: Record<string, number> = {};
    for (const f of mb.folders.list()) {
      uidValidity[f.name] = mb.folders.status(f.id).uidValidity;
      for (const m of mb.messages.list(f.id)) {
        messages.push({ folder: f.name, uid: m.uid, modseq: m.modseq, flags: [...m.flags].sort(), internalDate: m.internalDate, raw: mb.messages.raw(m.blobId).toString('base64') });
      }
    }
    return { uidValidity, highestModseq: mb.highestModseq(), messages };
  } finally {
    lease.release();
  }
}
