/**
 * LIST-EXTENDED (RFC 5258) and LSUB (RFC 3501 §6.3.9), from the RFCs' rules:
 * RECURSIVEMATCH needs another selection option (§3.1); (SUBSCRIBED) lists
 * subscribed names whose mailbox is gone as \NonExistent (§3, §3.4; RFC 9051
 * §6.3.7 forbids dropping them); RECURSIVEMATCH returns CHILDINFO for
 * parents of matching subscribed children (§3.5); RETURN options apply to
 * any pattern list (§3); LSUB returns a level `%` stops at as \Noselect when
 * only a child is subscribed; a deleted folder whose children stay is a
 * \Noselect level (RFC 3501 §6.3.4, §6.3.8).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkedSession, type Checked } from './checker.js';
import { startFixture, type ImapFixture } from './helpers.js';

let f: ImapFixture;
let c: Checked;
beforeAll(async () => {
  f = await startFixture();
  c = await checkedSession(f);
  // Fruit (unsubscribed) with Apple (unsubscribed) and Banana (subscribed); Tofu; Vegetable and Vegetable/Broccoli, both subscribed.
  for (const m of ['Fruit/Apple', 'Fruit/Banana', 'Tofu', 'Vegetable/Broccoli']) expect(await c.cmd('c', `CREATE ${m}`)).toMatch(/c OK/);
  for (const m of ['Fruit', 'Fruit/Apple']) expect(await c.cmd('u', `UNSUBSCRIBE ${m}`)).toMatch(/u OK/);
});
afterAll(async () => {
  expect(c.violations).toEqual([]);
  c.raw.close();
  await f.close();
});

/** The untagged lines of a reply about the given names, in order. */
async function lines(cmd: string, names: RegExp = /./): Promise<string[]> {
  const r = await c.cmd('l', cmd);
  expect(r).toMatch(/l OK/);
  return r.split('\r\n').filter((l) => l.startsWith('* ') && names.test(l.replace(/^\* \S+ \([^)]*\) "\/" /, '')));
}

const FOOD = /^(Fruit|Tofu|Vegetable)/;

describe('LIST-EXTENDED selection options (RFC 5258 §3)', () => {
  it('refuses RECURSIVEMATCH alone or with only REMOTE as BAD (§3.1)', async () => {
    expect(await c.cmd('b1', 'LIST (RECURSIVEMATCH) "" "*"')).toMatch(/^b1 BAD /);
    expect(await c.cmd('b2', 'LIST (REMOTE RECURSIVEMATCH) "" "*"')).toMatch(/^b2 BAD /);
    expect(await c.cmd('b3', 'LIST (recursivematch SUBSCRIBED) "" "Tofu"')).toMatch(/b3 OK/);
  });

  it('RECURSIVEMATCH returns parents of subscribed children with CHILDINFO ("SUBSCRIBED") (§3.5)', async () => {
    expect(await lines('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"', FOOD)).toEqual([
      '* LIST (\\HasChildren) "/" Fruit ("CHILDINFO" ("SUBSCRIBED"))',
      '* LIST (\\HasNoChildren \\Subscribed) "/" Tofu',
      '* LIST (\\HasChildren \\Subscribed) "/" Vegetable ("CHILDINFO" ("SUBSCRIBED"))',
    ]);
    // Without RECURSIVEMATCH: only what is subscribed itself, and no CHILDINFO.
    expect(await lines('LIST (SUBSCRIBED) "" "%"', FOOD)).toEqual([
      '* LIST (\\HasNoChildren \\Subscribed) "/" Tofu',
      '* LIST (\\HasChildren \\Subscribed) "/" Vegetable',
    ]);
  });

  it('RETURN (CHILDREN SUBSCRIBED) applies to every pattern of a pattern list, with or without a reference', async () => {
    expect(await lines('LIST "" ("Fruit" "Veg*") RETURN (CHILDREN SUBSCRIBED)')).toEqual([
      '* LIST (\\HasChildren) "/" Fruit',
      '* LIST (\\HasChildren \\Subscribed) "/" Vegetable',
      '* LIST (\\HasNoChildren \\Subscribed) "/" Vegetable/Broccoli',
    ]);
    expect(await lines('LIST "Fruit/" ("%" "Nothing*") RETURN (SUBSCRIBED CHILDREN)')).toEqual([
      '* LIST (\\HasNoChildren) "/" Fruit/Apple',
      '* LIST (\\HasNoChildren \\Subscribed) "/" Fruit/Banana',
    ]);
  });

  it('(SUBSCRIBED) keeps a subscribed name whose mailbox was deleted, as \\NonExistent, until UNSUBSCRIBE (§3.4)', async () => {
    await c.cmd('c', 'CREATE Gone');
    expect(await c.cmd('d', 'DELETE Gone')).toMatch(/d OK/);
    expect(await lines('LIST "" "Gone"')).toEqual([]);
    expect(await lines('LIST (SUBSCRIBED) "" "Gone"')).toEqual(['* LIST (\\NonExistent \\Subscribed) "/" Gone']);
    expect(await lines('LSUB "" "Gone"')).toEqual(['* LSUB (\\Noselect) "/" Gone']);
    // Created again, it is an ordinary subscribed folder.
    await c.cmd('c2', 'CREATE Gone');
    expect(await lines('LIST (SUBSCRIBED) "" "Gone"')).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "/" Gone']);
    await c.cmd('d2', 'DELETE Gone');
    expect(await c.cmd('u', 'UNSUBSCRIBE Gone')).toMatch(/u OK/);
    expect(await lines('LIST (SUBSCRIBED) "" "Gone"')).toEqual([]);
    expect(await c.cmd('u2', 'UNSUBSCRIBE Gone')).toMatch(/^u2 NO /);
  });

  it('a deleted folder whose children remain is listed as a \\Noselect level (RFC 3501 §6.3.4, §6.3.8)', async () => {
    await c.cmd('c', 'CREATE Kept/Child');
    await c.cmd('d', 'DELETE Kept');
    expect(await lines('LIST "" "Kept%"')).toEqual(['* LIST (\\Noselect \\HasChildren) "/" Kept']);
    expect(await lines('LIST "" "Kept*"')).toEqual(['* LIST (\\Noselect \\HasChildren) "/" Kept', '* LIST (\\HasNoChildren) "/" Kept/Child']);
  });
});

describe('LSUB (RFC 3501 §6.3.9)', () => {
  it('returns the level `%` stops at as \\Noselect when only a child below it is subscribed', async () => {
    expect(await lines('LSUB "" "%"', FOOD)).toEqual(['* LSUB (\\Noselect) "/" Fruit', '* LSUB () "/" Tofu', '* LSUB () "/" Vegetable']);
    expect(await lines('LSUB "" "Fruit/%"')).toEqual(['* LSUB () "/" Fruit/Banana']);
    // The RFC's own case: news/comp/mail/misc subscribed, its parents not.
    await c.cmd('c', 'CREATE news/comp/mail/misc');
    for (const m of ['news', 'news/comp', 'news/comp/mail']) await c.cmd('u', `UNSUBSCRIBE ${m}`);
    expect(await lines('LSUB "" "news/comp/%"')).toEqual(['* LSUB (\\Noselect) "/" news/comp/mail']);
    // With `*` the subscribed name itself matches: no \Noselect levels.
    expect(await lines('LSUB "" "news*"')).toEqual(['* LSUB () "/" news/comp/mail/misc']);
  });
});
