/**
 * @module node/imap/port
 * The only data surface IMAP handlers see: one logged-in account's mailbox
 * (folders, messages, search queries, change feed) and the server-wide
 * facts they report (quota, APPENDLIMIT). Backed by a store Lease; a test
 * or another backend can supply its own.
 */
import type { Folder, FolderRepo, Lease, MailboxChange, MessageRepo, SearchRepo } from '../store/index.js';

export interface MailPort {
  readonly accountId: string;
  readonly address: string;
  readonly folders: FolderRepo;
  readonly messages: MessageRepo;
  readonly search: SearchRepo;
  onChange(fn: (c: MailboxChange) => void): () => void;
  quota(): { usedBytes: number; limitBytes: number };
  release(): void;
}

export type { Folder, MailboxChange };

export function leasePort(lease: Lease): MailPort {
  const mb = lease.mailbox;
  return {
    accountId: lease.account.id,
    address: lease.account.address,
    folders: mb.folders,
    messages: mb.messages,
    search: mb.search,
    onChange: (fn) => mb.onChange(fn),
    quota: () => ({ usedBytes: mb.usedBytes(), limitBytes: mb.messages.quotaBytes }),
    release: () => lease.release(),
  };
}
