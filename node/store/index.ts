/**
 * @module node/store
 * The only SQL in the node. Protocols use this typed API: the Store (accounts,
 * logins, delivery, leases on unlocked mailboxes), the Directory (domains,
 * aliases, DKIM), a Mailbox's repositories (folders, messages, dav) and its
 * change bus; domain errors for each failure.
 */
export { Store, STORE_MEMORY_DEFAULTS, type Lease, type KeyMode, type StoreOptions, type DeliveryOptions, type DeliveryResult, type Credential } from './store.js';
export { Directory, makeDkimKey, type Account, type Alias, type Domain, type DkimKey, type Route, type KeyWrapRecord } from './directory/directory.js';
export { SieveRepo, ScriptExistsError, ActiveScriptError, ScriptQuotaError, SIEVE_LIMITS, BEFORE_SCRIPT, type ScriptInfo } from './directory/sieve.js';
export { Mailbox, type MailboxChange } from './mailbox/mailbox.js';
export { SEPARATOR, canonicalName, DEFAULT_FOLDERS, type Folder, type FolderStatus, FolderRepo } from './mailbox/folders.js';
export { MessageRepo, type MessageMeta, type AppendOptions, type AppendResult, type FlagMode, type FlagReader } from './mailbox/messages.js';
export { DavRepo, etagOf, PreconditionFailedError, UidConflictError, type Collection, type CollectionKind, type DavObject, type DavObjectHead, type PutObject } from './mailbox/dav.js';
export { ImportRepo, type ImportCursor } from './mailbox/imports.js';
export { MIN_INDEXED_CHARS, SearchRepo, type SortFields, type TextScope } from './mailbox/search.js';
export { SYSTEM_FLAGS, flagBit } from './mailbox/flags.js';
export { Spool } from './spool.js';
export { addDbObserver, openEncrypted, type Db, type DbObserver } from './db.js';
export { normalizeAddress, splitAddress, validateDomainName } from './address.js';
export * from './errors.js';
