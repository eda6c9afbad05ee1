/**
 * Actions of RFC 5228 §4 and the extensions that add or shape actions:
 * fileinto, reject/ereject (RFC 5429), imap4flags (RFC 5232), copy
 * (RFC 3894), mailbox (RFC 5490), vacation (RFC 5230, RFC 6131), include
 * (RFC 6609). Scripts are the RFCs' own examples where they give one.
 */
import { describe, expect, it } from 'vitest';
import { SieveRuntimeError } from '../../node/sieve/index.js';
import { BASIC, into, keep, msg, run } from './helpers.js';

describe('RFC 5228 §4 core actions and the implicit keep (§2.10.2)', () => {
  it('keeps implicitly when nothing is done', () => {
    expect(run('if false { discard; }')).toEqual([keep]);
  });
  it('discard cancels the implicit keep (§4.4)', () => {
    expect(run('discard;')).toEqual([{ type: 'discard' }]);
  });
  it('stop ends the script, the implicit keep still applies (§3.3)', () => {
    expect(run('stop; discard;')).toEqual([keep]);
  });
  it('redirect cancels the implicit keep; :copy (RFC 3894 §3) does not', () => {
    expect(run('redirect "a@b.example";')).toEqual([{ type: 'redirect', address: 'a@b.example', copy: false }]);
    expect(run('require "copy"; redirect :copy "a@b.example";')).toEqual([{ type: 'redirect', address: 'a@b.example', copy: true }, keep]);
  });
  it('refuses more than 5 redirects at run time', () => {
    expect(() => run('redirect "a@b.example";'.repeat(6))).toThrow(SieveRuntimeError);
  });
});

describe('fileinto (RFC 5228 §4.1)', () => {
  it('files into the named folder and cancels the implicit keep', () => {
    expect(run('require "fileinto"; if header :contains "subject" "present" { fileinto "Gifts"; }')).toEqual([into('Gifts')]);
  });
  it('with :copy (RFC 3894 §3) keeps too', () => {
    expect(run('require ["fileinto", "copy"]; fileinto :copy "Archive";')).toEqual([into('Archive', { copy: true }), keep]);
  });
  it('with :create (RFC 5490 §3.2)', () => {
    expect(run('require ["fileinto", "mailbox"]; fileinto :create "New/Folder";')).toEqual([into('New/Folder', { create: true })]);
  });
  it('mailboxexists asks the environment (RFC 5490 §3.1)', () => {
    const env = { mailboxExists: (m: string) => m === 'Lists' };
    const s = 'require ["fileinto", "mailbox"]; if mailboxexists "Lists" { fileinto "Lists"; } if mailboxexists ["Lists", "Nope"] { discard; }';
    expect(run(s, BASIC, env)).toEqual([into('Lists')]);
  });
});

describe('reject and ereject (RFC 5429)', () => {
  it('reject cancels the implicit keep (§2.2)', () => {
    const s = 'require ["reject"]; if header :contains "from" "coyote@desert.example.org" { reject text:\nI am not taking mail from you, and I don\'t\nwant your birdseed, either!\n.\n; }';
    expect(run(s)).toEqual([{ type: 'reject', reason: "I am not taking mail from you, and I don't\r\nwant your birdseed, either!\r\n", extended: false }]);
  });
  it('ereject is marked extended (§2.1)', () => {
    expect(run('require "ereject"; ereject "no";')).toEqual([{ type: 'reject', reason: 'no', extended: true }]);
  });
  it('reject with keep or fileinto is a run-time error (§2.2)', () => {
    expect(() => run('require ["reject", "fileinto"]; fileinto "x"; reject "no";')).toThrow(/reject cannot be combined/);
    expect(() => run('require "reject"; reject "no"; keep;')).toThrow(/cannot follow reject/);
  });
});

describe('imap4flags (RFC 5232)', () => {
  it('setflag/addflag/removeflag manage the internal variable and the implicit keep uses it (§3, §5)', () => {
    const s = `require ["imap4flags"];
      setflag "\\\\Seen";
      addflag ["$Work", "\\\\Flagged"];
      removeflag "\\\\Seen";`;
    expect(run(s)).toEqual([{ type: 'keep', flags: ['$Work', '\\Flagged'] }]);
  });
  it('a flag string may hold several flags separated by spaces, duplicates dropped (§3)', () => {
    expect(run('require "imap4flags"; addflag "A B"; addflag "b C";')).toEqual([{ type: 'keep', flags: ['A', 'B', 'C'] }]);
  });
  it('fileinto :flags overrides the internal variable for that action only (§5)', () => {
    const s = 'require ["imap4flags", "fileinto"]; addflag "$Important"; fileinto :flags "\\\\Deleted" "Trash"; fileinto "Other";';
    expect(run(s)).toEqual([into('Trash', { flags: ['\\Deleted'] }), into('Other', { flags: ['$Important'] })]);
  });
  it('hasflag tests the internal variable or a named one (§4, with variables)', () => {
    const s = `require ["imap4flags", "variables", "fileinto"];
      setflag "MyVar" "\\\\Seen Junk";
      addflag "$Mine";
      if hasflag :contains "MyVar" "junk" { fileinto "A"; }
      if hasflag "$mine" { fileinto "B"; }
      if hasflag "Nope" { fileinto "C"; }`;
    expect(run(s).map((a) => (a as { mailbox?: string }).mailbox)).toEqual(['A', 'B']);
  });
  it('the RFC 5232 §6 example: flags by sender', () => {
    const s = `require ["imap4flags", "fileinto"];
      if header :contains "from" "coyote" {
        addflag "\\\\Deleted";
        fileinto "INBOX.From.Coyote";
      }`;
    expect(run(s)).toEqual([into('INBOX.From.Coyote', { flags: ['\\Deleted'] })]);
  });
});

describe('vacation (RFC 5230) and vacation-seconds (RFC 6131)', () => {
  it('reports the reply with its defaults: 7 days, a handle from the text (§4.1, §4.2)', () => {
    const [v, k] = run('require "vacation"; vacation "I am away";');
    expect(v).toMatchObject({ type: 'vacation', reason: 'I am away', periodSeconds: 7 * 86400, subject: null, from: null, mime: false });
    expect(k).toEqual(keep);
  });
  it('takes :days, :subject, :from, :addresses, :handle (§4)', () => {
    const s = 'require "vacation"; vacation :days 23 :addresses ["tjs@example.edu", "ts4z@landru.example.edu"] :subject "Gone" :from "tjs@example.edu" :handle "h1" "I\'m away until October 19.";';
    expect(run(s)[0]).toMatchObject({ periodSeconds: 23 * 86400, addresses: ['tjs@example.edu', 'ts4z@landru.example.edu'], subject: 'Gone', from: 'tjs@example.edu', handle: 'h1' });
  });
  it(':days 0 is raised to the one-day minimum (§4.1); :seconds 0 replies every time (RFC 6131 §2)', () => {
    expect(run('require "vacation"; vacation :days 0 "x";')[0]).toMatchObject({ periodSeconds: 86400 });
    expect(run('require ["vacation", "vacation-seconds"]; vacation :seconds 0 "x";')[0]).toMatchObject({ periodSeconds: 0 });
    expect(run('require ["vacation", "vacation-seconds"]; vacation :seconds 1800 "x";')[0]).toMatchObject({ periodSeconds: 1800 });
  });
  it(':seconds needs require "vacation-seconds" and excludes :days', () => {
    expect(() => run('require "vacation"; vacation :seconds 5 "x";')).toThrow(/vacation-seconds/);
    expect(() => run('require ["vacation", "vacation-seconds"]; vacation :days 1 :seconds 5 "x";')).toThrow(/cannot be used with/);
  });
  it('different texts without :handle get different handles (§4.2)', () => {
    const a = run('require "vacation"; vacation "one";')[0] as { handle: string };
    const b = run('require "vacation"; vacation "two";')[0] as { handle: string };
    expect(a.handle).not.toBe(b.handle);
  });
});

describe('include (RFC 6609)', () => {
  const scripts: Record<string, string> = {
    spam: 'require ["fileinto"]; if header :contains "subject" "present" { fileinto "Spam"; stop; }',
    lists: 'require ["fileinto"]; if exists "list-id" { fileinto "Lists"; }',
    setter: 'require ["include", "variables"]; global "folder"; set "folder" "FromInclude"; return; set "folder" "never";',
    self: 'require "include"; include "self";',
  };
  const include = (name: string) => scripts[name] ?? null;
  it('runs the included script; its stop ends everything (§3.2)', () => {
    expect(run('require ["include", "fileinto"]; include "spam"; fileinto "After";', BASIC, { include })).toEqual([into('Spam')]);
  });
  it(':once includes a script only once (§3.2)', () => {
    const actions = run('require ["include", "fileinto"]; include :once "lists"; include :once "lists"; fileinto "x";', msg(['List-Id: <l.example>', '', 'x']), { include });
    expect(actions).toEqual([into('Lists'), into('x')]);
  });
  it(':optional skips a missing script; without it the run fails (§3.2)', () => {
    expect(run('require "include"; include :optional "nope";', BASIC, { include })).toEqual([keep]);
    expect(() => run('require "include"; include "nope";', BASIC, { include })).toThrow(/does not exist/);
  });
  it('global variables cross the include boundary; return ends only the included script (§3.3, §3.4)', () => {
    const s = 'require ["include", "variables", "fileinto"]; global "folder"; include "setter"; fileinto "${folder}";';
    expect(run(s, BASIC, { include })).toEqual([into('FromInclude')]);
  });
  it('a script including itself is a run-time error (§3.2)', () => {
    expect(() => run('require "include"; include "self";', BASIC, { include })).toThrow(/loops back/);
  });
});
