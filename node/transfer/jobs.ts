/**
 * @module node/transfer/jobs
 * Imports and exports as jobs of the process that holds the data directory
 * (the node, or the CLI when no node runs): started by an operation, they
 * run in the background while the node keeps delivering (each batch is
 * written in slices of about 20 ms of work, one transaction each, and the
 * job yields to the event loop between slices: import-job.ts),
 * and anyone the node answers (the CLI over the control socket, the admin
 * API) reads their progress by id. The job opens the mailbox with the
 * owner's password or an app password, as a login would (zero-access mode
 * allows nothing else), and holds it open until it ends. Nothing of a job
 * is kept on disk but what it writes into the mailbox.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../store/index.js';
import { ConflictError, NotFoundError, StoreError } from '../store/index.js';
import { importDavFile } from './dav-import.js';
import { importFromDav } from './dav-source.js';
import { directoryTarget, runExport, type ExportFormat, type Manifest } from './export.js';
import { NODE_BATCH_BYTES, runImport } from './import-job.js';
import { processRunsAlone } from './memory.js';
import { imapSource } from './imap-source.js';
import { exportDirSource, maildirSource, mboxSource } from './local-sources.js';
import type { MboxVariant } from './mbox.js';
import { Progress, type ProgressSnapshot } from './progress.js';

export type ImportSourceSpec =
  | { type: 'imap'; host: string; port: number; secure: boolean; user: string; password: string; insecure?: boolean; folders?: string[]; concurrency?: number }
  | { type: 'dav'; url: string; user: string; password: string; insecure?: boolean }
  /** A file or directory on the node's disk; `as` forces how to read it (default: detect). */
  | { type: 'path'; path: string; as?: LocalKind; into?: string; variant?: MboxVariant };

export type LocalKind = 'mbox' | 'maildir' | 'calendar' | 'contacts' | 'export';

/** How to read a path: an export (manifest.json), a Maildir (a directory), .ics/.vcf, else an mbox file. */
export function detectKind(path: string): LocalKind {
  if (statSync(path).isDirectory()) return existsSync(join(path, 'manifest.json')) ? 'export' : 'maildir';
  if (/\.(ics|ical|ifb)$/i.test(path)) return 'calendar';
  if (/\.(vcf|vcard)$/i.test(path)) return 'contacts';
  return 'mbox';
}

export type JobSpec =
  | { kind: 'import'; address: string; password: string; source: ImportSourceSpec; rate?: number; batch?: number }
  | { kind: 'export'; address: string; password: string; dir: string; format: ExportFormat };

export interface JobView {
  id: string;
  kind: 'import' | 'export';
  address: string;
  /** What is read or written, without secrets: `imap://user@host:port`, a path. */
  what: string;
  startedAt: string;
  progress: ProgressSnapshot;
  manifest: Manifest | null;
}

interface Job {
  view: Omit<JobView, 'progress'>;
  progress: Progress;
  abort: AbortController;
  done: Promise<void>;
  endedAt: number | null;
}

/** A problem with the job's input the user can fix (a path that is not there). */
export class TransferInputError extends StoreError {}

const registries = new WeakMap<Store, Map<string, Job>>();
/** Finished jobs stay readable this long, then go. */
const KEEP_MS = 60 * 60_000;

function registry(store: Store): Map<string, Job> {
  let r = registries.get(store);
  if (!r) registries.set(store, (r = new Map()));
  for (const [id, j] of r) if (j.endedAt && Date.now() - j.endedAt > KEEP_MS) r.delete(id);
  return r;
}

function describe(spec: JobSpec): string {
  if (spec.kind === 'export') return `${spec.dir} (${spec.format})`;
  const s = spec.source;
  if (s.type === 'dav') return `${s.user} at ${s.url}`;
  return s.type === 'imap' ? `${s.secure ? 'imaps' : 'imap'}://${s.user}@${s.host}:${s.port}` : s.path;
}

function checkPaths(spec: JobSpec): void {
  if (spec.kind === 'export') {
    if (existsSync(spec.dir) && !statSync(spec.dir).isDirectory()) throw new TransferInputError(`${spec.dir} exists and is not a directory`);
    if (existsSync(join(spec.dir, 'manifest.json'))) throw new TransferInputError(`${spec.dir} already holds an export (manifest.json); choose an empty directory`);
    return;
  }
  const s = spec.source;
  if (s.type !== 'path') return;
  if (!existsSync(s.path)) throw new TransferInputError(`${s.path} does not exist (on the machine the node runs on)`);
  if ((s.as ?? detectKind(s.path)) === 'export') readManifest(s.path);
}

function readManifest(dir: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch (err) {
    throw new TransferInputError(`${join(dir, 'manifest.json')} is not readable JSON: ${(err as Error).message}`);
  }
  if (m.haven !== 'export-v1' || !Array.isArray(m.folders)) throw new TransferInputError(`${join(dir, 'manifest.json')} is not a Haven export manifest (export-v1)`);
  return m;
}

/** Starts a job; resolves once the mailbox is open (a wrong password fails here, not later). */
export async function startJob(store: Store, spec: JobSpec): Promise<JobView> {
  const jobs = registry(store);
  for (const j of jobs.values()) {
    if (!j.endedAt && j.view.address === spec.address) throw new ConflictError(`an ${j.view.kind} for ${spec.address} is running (${j.view.id}); wait for it or cancel it`);
  }
  checkPaths(spec);
  const lease = await store.authenticate(spec.address, spec.password);
  const progress = new Progress();
  const abort = new AbortController();
  const id = randomBytes(6).toString('hex');
  const view: Omit<JobView, 'progress'> = { id, kind: spec.kind, address: spec.address, what: describe(spec), startedAt: new Date().toISOString(), manifest: null };
  const run = async () => {
    if (spec.kind === 'export') {
      view.manifest = await runExport(lease.mailbox, directoryTarget(spec.dir), { format: spec.format, signal: abort.signal, progress });
      return;
    }
    const s = spec.source;
    const opts = { signal: abort.signal, progress, rate: spec.rate, batchMessages: spec.batch };
    // Inside the node, FETCH in chunks no larger than the job's batches: a chunk and the one fetched ahead are held until written (import-job.ts NODE_BATCH_BYTES).
    if (s.type === 'imap') return runImport(lease.mailbox, imapSource({ ...s, chunkBytes: processRunsAlone() ? undefined : NODE_BATCH_BYTES }), opts);
    if (s.type === 'dav') return importFromDav(lease.mailbox, s, progress, abort.signal);
    const kind = s.as ?? detectKind(s.path);
    if (kind === 'calendar' || kind === 'contacts') return importDavFile(lease.mailbox, s.path, progress);
    if (kind === 'mbox') return runImport(lease.mailbox, mboxSource(s.path, { into: s.into, variant: s.variant }), opts);
    if (kind === 'maildir') return runImport(lease.mailbox, maildirSource(s.path), opts);
    const manifest = readManifest(s.path);
    await runImport(lease.mailbox, exportDirSource(s.path, manifest), opts);
    for (const c of [...manifest.calendars, ...manifest.addressBooks]) {
      await importDavFile(lease.mailbox, join(s.path, c.path), progress, { name: c.name, displayName: c.displayName, color: 'color' in c ? (c.color as string | null) : null });
    }
  };
  const job: Job = { view, progress, abort, endedAt: null, done: Promise.resolve() };
  job.done = run().then(
    () => {
      progress.s.phase = 'done';
    },
    (err: Error) => {
      progress.s.phase = abort.signal.aborted ? 'cancelled' : 'failed';
      progress.s.error = abort.signal.aborted ? null : err.message;
    },
  ).finally(() => {
    job.endedAt = Date.now();
    lease.release();
  });
  jobs.set(id, job);
  return { ...view, progress: progress.snapshot() };
}

function viewOf(j: Job): JobView {
  return { ...j.view, progress: j.progress.snapshot() };
}

export function jobStatus(store: Store, id: string): JobView {
  const j = registry(store).get(id);
  if (!j) throw new NotFoundError(`no import or export with id ${id} on this node (finished ones are kept for an hour)`);
  return viewOf(j);
}

export function listJobs(store: Store): JobView[] {
  return [...registry(store).values()].map(viewOf);
}

export function cancelJob(store: Store, id: string): JobView {
  const j = registry(store).get(id);
  if (!j) throw new NotFoundError(`no import or export with id ${id}`);
  j.abort.abort();
  return viewOf(j);
}

/** Resolves when the job has ended (for the process that runs it: tests, the in-process CLI). */
export async function jobEnded(store: Store, id: string): Promise<JobView> {
  const j = registry(store).get(id);
  if (!j) throw new NotFoundError(`no job ${id}`);
  await j.done;
  return viewOf(j);
}
