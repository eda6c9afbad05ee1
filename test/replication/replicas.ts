/**
 * @module test/replication/replicas
 * The replica kinds the fencing and failover tests run on, so one test body
 * covers both (issue 19: "a shared replica (file, and a real S3-compatible
 * server ...)"): a directory (exclusive create by link(2)), and moto's S3
 * server (PutObject with `If-None-Match: *`, test/helpers/moto). Each
 * `fresh()` is an empty replica of its own: a new directory, or a new
 * prefix in the one moto bucket the file's tests share.
 */
import { rmSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { openTarget, type ReplicaTarget } from '../../node/replication/target.js';
import { startMoto, type TestMoto } from '../helpers/moto.js';
import { tempDir } from './helpers.js';

export interface Replica {
  url: string;
  /** A new target on the replica (the caller closes it). */
  target(): ReplicaTarget;
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
  };
}

/** Both kinds, for describe.each. */
export function replicaKinds(): ReplicaKind[] {
  return [fileReplicas(), motoReplicas()];
}
