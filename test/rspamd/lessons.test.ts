/**
 * What a mailbox change teaches rspamd (issue 17): into Junk is spam, out of
 * Junk (not to Trash) is ham, $Junk and $NotJunk likewise; new mail and other
 * moves teach nothing.
 */
import { describe, expect, it } from 'vitest';
import { lessonOf } from '../../node/rspamd/index.js';

const folders: Record<number, { name: string; specialUse: string | null }> = {
  1: { name: 'INBOX', specialUse: null },
  2: { name: 'Junk', specialUse: '\\Junk' },
  3: { name: 'Trash', specialUse: '\\Trash' },
  4: { name: 'Spam', specialUse: '\\Junk' },
  5: { name: 'Projects', specialUse: null },
};
const byId = (id: number) => folders[id] ?? null;
const moved = (from: number, to: number) => lessonOf({ type: 'exists', folderId: to, uids: [1], modseq: 1, copiedFrom: from }, byId);
const stored = (mode: 'set' | 'add' | 'remove', flags: string[]) => lessonOf({ type: 'flags', folderId: 1, uids: [1], modseq: 1, stored: { mode, flags } }, byId);

describe('lessonOf', () => {
  it('copy or move into a \\Junk folder is spam, by special use or by name', () => {
    expect(moved(1, 2)).toBe('spam');
    expect(moved(5, 4)).toBe('spam');
  });
  it('out of Junk is ham, except into Trash, and Junk to Junk is nothing', () => {
    expect(moved(2, 1)).toBe('ham');
    expect(moved(2, 3)).toBeNull();
    expect(moved(2, 4)).toBeNull();
    expect(moved(1, 5)).toBeNull();
  });
  it('new mail teaches nothing, even into Junk', () => {
    expect(lessonOf({ type: 'exists', folderId: 2, uids: [1], modseq: 1 }, byId)).toBeNull();
  });
  it('$Junk and $NotJunk set or added teach; removed teaches nothing', () => {
    expect(stored('add', ['$Junk'])).toBe('spam');
    expect(stored('set', ['\\Seen', '$notjunk'])).toBe('ham');
    expect(stored('remove', ['$Junk'])).toBeNull();
    expect(stored('add', ['\\Flagged'])).toBeNull();
  });
});
