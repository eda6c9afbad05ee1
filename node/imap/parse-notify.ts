/**
 * @module node/imap/parse-notify
 * NOTIFY's grammar (RFC 5465 §8): NONE, or SET [STATUS] and event groups.
 */
import { bad, type Cursor } from './cursor.js';
import { fetchAtt, type FetchAtt } from './parse-fetch.js';
import type { Command } from './parse.js';

export interface NotifyGroup {
  filter: 'SELECTED' | 'SELECTED-DELAYED' | 'INBOXES' | 'PERSONAL' | 'SUBSCRIBED' | 'SUBTREE' | 'MAILBOXES';
  /** SUBTREE and MAILBOXES: the mailboxes named. */
  mailboxes: string[];
  /** Event names as the RFC spells them (unknown ones as sent); empty for NONE. */
  events: string[];
  /** MessageNew's fetch attributes, if any. */
  fetch: FetchAtt[] | null;
}

// RFC 5465 §8: NOTIFY NONE, or SET [STATUS] followed by event groups of
// a mailbox filter and its events (or NONE). Which events are supported is
// the handler's call (it answers BADEVENT); this only checks the grammar.
const NOTIFY_FILTERS = ['SELECTED-DELAYED', 'SELECTED', 'INBOXES', 'PERSONAL', 'SUBSCRIBED', 'SUBTREE', 'MAILBOXES'] as const;
const NOTIFY_EVENTS = ['MessageNew', 'MessageExpunge', 'FlagChange', 'AnnotationChange', 'MailboxName', 'SubscriptionChange', 'MailboxMetadataChange', 'ServerMetadataChange'];

function notifyGroup(c: Cursor): NotifyGroup {
  c.expect('(');
  const word = c.atom('mailbox filter').toUpperCase();
  const filter = NOTIFY_FILTERS.find((f) => f === word);
  if (!filter) bad(`${word} is not a NOTIFY mailbox filter; use SELECTED, SELECTED-DELAYED, INBOXES, PERSONAL, SUBSCRIBED, SUBTREE or MAILBOXES`);
  let mailboxes: string[] = [];
  if (filter === 'SUBTREE' || filter === 'MAILBOXES') {
    c.sp();
    mailboxes = c.peek() === '(' ? c.list(() => c.mailbox(), false) : [c.mailbox()];
  }
  c.sp();
  let events: string[] = [];
  let fetch: FetchAtt[] | null = null;
  if (!c.takeCi('NONE')) {
    events = c.list(() => {
      const name = c.atom('event');
      const known = NOTIFY_EVENTS.find((e) => e.toUpperCase() === name.toUpperCase()) ?? name;
      if (known === 'MessageNew' && c.lookingAt(' (')) {
        c.sp();
        fetch = c.list(() => fetchAtt(c), false);
      }
      return known;
    }, false);
  }
  c.expect(')');
  return { filter, mailboxes, events, fetch };
}

export function parseNotify(c: Cursor, tag: string): Extract<Command, { name: 'NOTIFY' }> {
  c.sp();
  if (c.takeCi('NONE')) return { tag, name: 'NOTIFY', set: null };
  if (!c.takeCi('SET')) bad('NOTIFY takes SET or NONE');
  // §8: notify-set = "SET" [status-indicator] SP event-groups, status-indicator = SP "STATUS".
  const status = c.takeCi(' STATUS') && (c.lookingAt(' ') || c.atEnd() || bad('expected an event group after NOTIFY SET STATUS'));
  const groups: NotifyGroup[] = [];
  do {
    c.sp();
    groups.push(notifyGroup(c));
  } while (!c.atEnd());
  return { tag, name: 'NOTIFY', set: { status, groups } };
}
