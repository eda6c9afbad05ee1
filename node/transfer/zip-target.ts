/**
 * @module node/transfer/zip-target
 * An export target that streams a ZIP (zip.ts) instead of writing files:
 * for the owner's download, so the plaintext never lands on the server.
 */
import type { ExportTarget } from './export.js';
import { ZipWriter } from './zip.js';

export function zipTarget(out: (chunk: Buffer) => Promise<void>): ExportTarget & { finish(): Promise<void> } {
  const zip = new ZipWriter(out);
  const made = new Set<string>();
  const parents = async (rel: string) => {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!made.has(d)) {
        made.add(d);
        await zip.dir(d);
      }
    }
  };
  return {
    async dir(rel) {
      await parents(rel + '/x');
    },
    async begin(rel, mtimeMs, maxBytes) {
      await parents(rel);
      await zip.begin(rel, { mtimeMs, maxBytes });
    },
    write: (data) => zip.write(data),
    end: () => zip.close(),
    finish: () => zip.finish(),
  };
}
