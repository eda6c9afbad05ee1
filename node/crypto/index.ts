/**
 * @module node/crypto
 * The key hierarchy: master key, mailbox keys wrapped by password, app
 * passwords, recovery key and (managed mode) the master key; the sealed inbox.
 * node:crypto only.
 */
export { DecryptError, open, seal } from './aead.js';
export { unwrapKey, wrapKey, PASSWORD_SCRYPT, type WrapKind, type WrappedKey, type KdfParams } from './wrap.js';
export { generateBoxKeyPair, openSealed, sealTo, type BoxKeyPair } from './sealed-box.js';
export { loadMasterKey, parseMasterKey, MasterKeyError, type LoadedMasterKey, type MasterKeySource } from './master-key.js';
export { newAppPassword, newId, newRecoveryKey, normalizeSecret } from './secrets.js';
