/**
 * @module node/imap/commands
 * The dispatch table: one `{ states, handle }` per command name.
 */
import type { CommandName } from '../parse.js';
import type { Handler } from '../session.js';
import { append } from './append.js';
import { authenticate } from './authenticate.js';
import { capability, check, noop } from './capability.js';
import { copy } from './copy.js';
import { enable } from './enable.js';
import { expunge } from './expunge.js';
import { fetch } from './fetch.js';
import { create, del, rename, subscribe } from './folders.js';
import { id, namespace } from './id.js';
import { idle } from './idle.js';
import { list, lsub } from './list.js';
import { login } from './login.js';
import { logout } from './logout.js';
import { notify } from './notify.js';
import { getquota, getquotaroot, setquota } from './quota.js';
import { search } from './search.js';
import { close, select } from './select.js';
import { sort } from './sort.js';
import { status } from './status.js';
import { store } from './store.js';
import { compress, starttls } from './starttls.js';
import { thread } from './thread.js';

export const COMMANDS: { [N in CommandName]: Handler<N> } = {
  CAPABILITY: capability, NOOP: noop, CHECK: check, LOGOUT: logout, ID: id, NAMESPACE: namespace, ENABLE: enable,
  STARTTLS: starttls, COMPRESS: compress, LOGIN: login, AUTHENTICATE: authenticate,
  SELECT: select, EXAMINE: select, CLOSE: close, UNSELECT: close,
  CREATE: create, DELETE: del, RENAME: rename, SUBSCRIBE: subscribe, UNSUBSCRIBE: subscribe, LIST: list, LSUB: lsub, STATUS: status,
  APPEND: append, FETCH: fetch, STORE: store, COPY: copy, MOVE: copy, EXPUNGE: expunge, UIDEXPUNGE: expunge,
  SEARCH: search, SORT: sort, THREAD: thread, IDLE: idle,
  GETQUOTA: getquota, GETQUOTAROOT: getquotaroot, SETQUOTA: setquota, NOTIFY: notify,
} as never;
