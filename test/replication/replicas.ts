/**
 * @module test/replication/replicas
 * The replica kinds the fencing and failover tests run on, so one test body
 * covers both (issue 19: "a shared replica (file, and a real S3-compatible
 * server ...)"): a directory (exclusive create by link(2)), and moto's S3
 * server (PutObject with `If-None-Match: *`, test/helpers/moto). Each
 * `fresh()` is an empty replica of its own: a new directory, or a new
 * prefix in the one moto bucket the file's tests share.
 */
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openTarget, type ReplicaTarget } from '../../node/replication/target.js';
import { startMoto, type TestMoto } from '../helpers/moto.js';
import { tempDir } from './helpers.js';

export interface Replica {
  url: string;
  /** A new target on the replica (the caller closes it). */
  target(): ReplicaTarget;
}

/**
 * One replica and a second way to it that the test can cut, as a network
 * partition would: every call through `viaUrl` fails until `heal()`, while
 * `replica.url` keeps working for the other node.
 */
export interface CuttableReplica {
  replica: Replica;
  viaUrl: string;
  cut(): void;
  heal(): Promise<void>;
  close(): Promise<void>;
}

export interface ReplicaKind {
  name: 'file' | 's3';
  /** What serves it, for test titles. */
  server: string;
  /** In beforeAll: start what the kind needs (moto), failing loudly when it is missing. */
  setup(): Promise<void>;
  /** In afterAll: stop it and remove what fresh() made. */
  teardown(): Promise<void>;
  fresh(tag: string): Replica;
  cuttable(tag: string): Promise<CuttableReplica>;
}

function replicaAt(url: string): Replica {
  return { url, target: () => openTarget(url) };
}

export function fileReplicas(): ReplicaKind {
  const dirs: string[] = [];
  return {
    name: 'file',
    server: 'a directory',
    async setup() {},
    async teardown() {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
    fresh(tag) {
      const d = tempDir(`replica-${tag}`);
      dirs.push(d);
      return replicaAt(pathToFileURL(d).href);
    },
    async cuttable(tag) {
      // The cut node reaches the directory through a symbolic link, pointed at a plain file to cut
      // it off: every replica call then fails with ENOTDIR.
      const d = tempDir(`replica-${tag}`);
      dirs.push(d);
      const replica = join(d, 'replica');
      mkdirSync(replica);
      const link = join(d, 'via');
      symlinkSync(replica, link);
      writeFileSync(join(d, 'cut'), 'not a directory');
      const point = (to: string) => {
        symlinkSync(to, `${link}.new`);
        renameSync(`${link}.new`, link);
      };
      return {
        replica: replicaAt(pathToFileURL(replica).href),
        viaUrl: pathToFileURL(link).href,
        cut: () => point(join(d, 'cut')),
        heal: async () => point(replica),
        close: async () => {},
      };
    },
  };
}

/**
 * A TCP relay to moto on a port of its own: `cut()` drops every connection
 * and stops listening (new ones are refused), `heal()` listens on the same
 * port again.
 */
async function relayTo(port: number): Promise<{ port: number; cut(): void; heal(): Promise<void>; close(): Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  const listen = (p: number) => new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
  const own = await listen(0);
  const cut = () => {
    server.close();
    for (const s of open) s.destroy();
    open.clear();
  };
  return {
    port: own,
    cut,
    heal: async () => {
      await listen(own);
    },
    close: async () => {
      cut();
    },
  };
}

export function motoReplicas(): ReplicaKind {
  let moto: TestMoto | null = null;
  let n = 0;
  return {
    name: 's3',
    server: 'moto (S3)',
    async setup() {
      moto = await startMoto();
    },
    async teardown() {
      await moto?.stop();
      moto = null;
    },
    fresh(tag) {
      if (!moto) throw new Error('motoReplicas: setup() has not run (call it in beforeAll)');
      return replicaAt(moto.url(`${tag}-${++n}`));
    },
    async cuttable(tag) {
      if (!moto) throw new Error('motoReplicas: setup() has not run (call it in beforeAll)');
      const replica = this.fresh(tag);
      const relay = await relayTo(moto.port);
      return { replica, viaUrl: replica.url.replace(`127.0.0.1:${moto.port}`, `127.0.0.1:${relay.port}`), ...relay };
    },
  };
}

/** Both kinds, for describe.each. */
export function replicaKinds(): ReplicaKind[] {
  return [fileReplicas(), motoReplicas()];
}
