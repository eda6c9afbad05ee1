/**
 * Tests of RFC 5228 §5 and the extensions that add or sharpen tests:
 * envelope (§5.4), body (RFC 5173), variables (RFC 5229), relational
 * (RFC 5231), subaddress (RFC 5233), date and index (RFC 5260), duplicate
 * (RFC 7352), spamtest and spamtestplus (RFC 3685, RFC 5235).
 */
import { describe, expect, it } from 'vitest';
import { runScript, sieveMessage } from '../../node/sieve/index.js';
import { into, keep, msg, run } from './helpers.js';

const filed = (actions: unknown[]) => actions.map((a) => (a as { mailbox?: string; type: string }).mailbox ?? (a as { type: string }).type);

describe('RFC 5228 §5 core tests', () => {
  it('header :is / :contains / :matches with i;ascii-casemap by default (§2.7.3, §5.7)', () => {
    const s = `require "fileinto";
      if header :is "Subject" "i have a present for YOU" { fileinto "is"; }
      if header :contains "subject" "PRESENT" { fileinto "contains"; }
      if header :matches "subject" "I * a ?resent*" { fileinto "matches"; }
      if header :comparator "i;octet" :contains "subject" "PRESENT" { fileinto "octet"; }`;
    expect(filed(run(s))).toEqual(['is', 'contains', 'matches']);
  });
  it(':matches escapes wildcards with backslash (§2.7.1)', () => {
    const m = msg(['Subject: what?*', '', '']);
    expect(filed(run('require "fileinto"; if header :matches "subject" "what\\\\?\\\\*" { fileinto "y"; }', m))).toEqual(['y']);
    expect(filed(run('require "fileinto"; if header :matches "subject" "what\\\\?\\\\*x" { fileinto "y"; }', m))).toEqual(['keep']);
  });
  it('address parts :all, :localpart, :domain (§2.7.4) over decoded address lists', () => {
    const m = msg(['From: "Wile E." <Coyote@Desert.Example.org>, other@x.example', 'Cc: undisclosed:;', '', '']);
    const s = `require "fileinto";
      if address :localpart :is "from" "coyote" { fileinto "local"; }
      if address :domain :is "from" "desert.example.ORG" { fileinto "domain"; }
      if address :all :is "from" "other@x.example" { fileinto "all"; }
      if address :is "cc" "undisclosed" { fileinto "group"; }`;
    expect(filed(run(s, m))).toEqual(['local', 'domain', 'all']);
  });
  it('exists needs every named field; size compares octets (§5.5, §5.9)', () => {
    const s = `require "fileinto";
      if exists ["From", "Date"] { fileinto "both"; }
      if exists ["From", "X-Nope"] { fileinto "never"; }
      if size :over 100 { fileinto "over"; }
      if size :under 1M { fileinto "under"; }`;
    expect(filed(run(s))).toEqual(['both', 'over', 'under']);
  });
  it('allof, anyof and not (§5.2, §5.3, §5.8)', () => {
    const s = `require "fileinto";
      if allof (true, not false) { fileinto "a"; }
      if anyof (false, false) { fileinto "b"; }`;
    expect(filed(run(s))).toEqual(['a']);
  });
  it('decodes RFC 2047 encoded words before matching (§2.7.2)', () => {
    const m = msg(['Subject: =?utf-8?B?w6l0w6k=?=', '', '']);
    expect(filed(run('require "fileinto"; if header :is "subject" "été" { fileinto "y"; }', m))).toEqual(['y']);
  });
});

describe('envelope (RFC 5228 §5.4)', () => {
  it('tests MAIL FROM and RCPT TO, with address parts', () => {
    const s = `require ["envelope", "fileinto"];
      if envelope :all :is "from" "tim@example.com" { discard; }
      if envelope :domain :is "to" "ACME.example.com" { fileinto "acme"; }`;
    expect(filed(run(s, undefined, { envelope: { from: 'tim@example.com', to: 'rr@acme.example.com' } }))).toEqual(['discard', 'acme']);
  });
  it('the null reverse-path matches ""', () => {
    const s = 'require ["envelope", "fileinto"]; if envelope :is "from" "" { fileinto "bounces"; }';
    expect(filed(run(s, undefined, { envelope: { from: '', to: 'x@y.example' } }))).toEqual(['bounces']);
  });
});

describe('subaddress (RFC 5233 §4)', () => {
  const s = `require ["envelope", "subaddress", "fileinto"];
    if envelope :user "to" "ken" { fileinto "user"; }
    if envelope :detail "to" "mta-filters" { fileinto "detail"; }
    if envelope :detail "to" "" { fileinto "empty"; }`;
  it(':user and :detail split at "+"', () => {
    expect(filed(run(s, undefined, { envelope: { from: 'a@b.example', to: 'ken+mta-filters@example.org' } }))).toEqual(['user', 'detail']);
  });
  it('an empty detail matches ""; no separator makes :detail fail', () => {
    expect(filed(run(s, undefined, { envelope: { from: 'a@b.example', to: 'ken+@example.org' } }))).toEqual(['user', 'empty']);
    expect(filed(run(s, undefined, { envelope: { from: 'a@b.example', to: 'ken@example.org' } }))).toEqual(['user']);
  });
});

describe('relational (RFC 5231)', () => {
  it(':count counts fields (§4.2, its example)', () => {
    const m = msg(['To: a@x.example, b@x.example', 'Cc: c@x.example', 'Received: 1', 'Received: 2', 'Received: 3', '', '']);
    const s = `require ["relational", "comparator-i;ascii-numeric", "fileinto"];
      if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"] { fileinto "three-rcpts"; }
      if header :count "gt" :comparator "i;ascii-numeric" "received" "2" { fileinto "hops"; }
      if header :count "eq" :comparator "i;ascii-numeric" "x-none" "0" { fileinto "zero"; }`;
    expect(filed(run(s, m))).toEqual(['three-rcpts', 'hops', 'zero']);
  });
  it(':value compares with the comparator\'s order (§4.1); non-digits sort as infinity in i;ascii-numeric', () => {
    const m = msg(['X-Priority: 2', 'X-Score: abc', 'Subject: mmm', '', '']);
    const s = `require ["relational", "comparator-i;ascii-numeric", "fileinto"];
      if header :value "lt" :comparator "i;ascii-numeric" "x-priority" "3" { fileinto "urgent"; }
      if header :value "gt" :comparator "i;ascii-numeric" "x-score" "999999" { fileinto "inf"; }
      if header :value "gt" "subject" "M" { fileinto "after-m"; }
      if header :value "ne" "subject" "mmm" { fileinto "never"; }`;
    expect(filed(run(s, m))).toEqual(['urgent', 'inf', 'after-m']);
  });
});

describe('variables (RFC 5229)', () => {
  it('set with modifiers in precedence order (§4.1, its examples)', () => {
    const s = `require ["variables", "fileinto"];
      set "honorific" "Mr";
      set "first_name" "Wile";
      set "last_name" "Coyote";
      set "vacation" text:
Dear \${HONORIFIC} \${last_name},
I'm out, please leave a message after the meep.
.
;
      set :length "len" "\${first_name}";
      set :upper "up" "\${first_name}";
      set :upperfirst :lower "cap" "hELLO";
      set :quotewildcard "q" "a*b?";
      fileinto "\${len}-\${up}-\${cap}-\${q}";
      fileinto "\${vacation}";`;
    const a = run(s);
    expect(a[0]).toMatchObject({ mailbox: '4-WILE-Hello-a\\*b\\?' });
    expect(a[1]).toMatchObject({ mailbox: "Dear Mr Coyote,\r\nI'm out, please leave a message after the meep.\r\n" });
  });
  it(':matches sets ${1}.. to what each wildcard took (§3.2)', () => {
    const m = msg(['Subject: [acme-users] [fwd] version 1.0 is out', 'List-Id: Dave\'s Acme <acme-users@acme.example.org>', '', '']);
    const s = `require ["variables", "fileinto"];
      if header :matches "List-ID" "*<*@*" { fileinto "INBOX.lists.\${2}"; stop; }`;
    expect(run(s, m)).toEqual([into('INBOX.lists.acme-users')]);
    const s2 = `require ["variables", "fileinto"];
      if header :matches "Subject" "[*] *" { fileinto "\${1}/\${0}"; }`;
    expect(run(s2, m)).toEqual([into('acme-users/[acme-users] [fwd] version 1.0 is out')]);
  });
  it('string tests a variable; unknown variables expand to "" (§3, §5)', () => {
    const s = `require ["variables", "fileinto"];
      if string :is "\${nope}" "" { fileinto "empty"; }
      set "a" "x";
      if string :contains ["\${a}yz"] "y" { fileinto "y"; }`;
    expect(filed(run(s))).toEqual(['empty', 'y']);
  });
  it('without require "variables", ${...} is literal text', () => {
    expect(run('require "fileinto"; fileinto "${x}";')).toEqual([into('${x}')]);
  });
});

describe('body (RFC 5173)', () => {
  const mime = msg([
    'From: a@b.example',
    'Subject: s',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Caf=C3=A9 au lait and MAKE MONEY',
    '--b',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('secret-binary-word').toString('base64'),
    '--b--',
    '',
  ]);
  it(':text (the default) searches decoded text parts only (§5.3)', () => {
    const s = `require ["body", "fileinto"];
      if body :contains "café" { fileinto "decoded"; }
      if body :contains "make money" { fileinto "spam"; }
      if body :contains "secret-binary-word" { fileinto "never"; }`;
    expect(filed(run(s, mime))).toEqual(['decoded', 'spam']);
  });
  it(':content picks parts by type, decoded (§5.2)', () => {
    const s = `require ["body", "fileinto"];
      if body :content "application/octet-stream" :contains "secret-binary-word" { fileinto "bin"; }
      if body :content "text" :contains "CAFÉ" { fileinto "text"; }`;
    expect(filed(run(s, mime))).toEqual(['bin']);
  });
  it(':raw searches the undecoded body (§5.1)', () => {
    const s = 'require ["body", "fileinto"]; if body :raw :contains "Caf=C3=A9" { fileinto "raw"; }';
    expect(filed(run(s, mime))).toEqual(['raw']);
  });
});

describe('date and index (RFC 5260)', () => {
  const m = msg(['Date: Tue, 1 Apr 1997 09:06:31 -0800', 'Received: from b; Tue, 1 Apr 1997 17:10:00 +0000', 'Received: from a; Tue, 1 Apr 1997 17:07:00 +0000', '', '']);
  it('date parts in the header\'s own zone or another (§4, §4.1)', () => {
    const s = `require ["date", "relational", "fileinto", "variables"];
      if date :originalzone "date" "hour" "09" { fileinto "orig9"; }
      if date :zone "+0000" "date" "hour" "17" { fileinto "utc17"; }
      if date :zone "+0000" "date" "date" "1997-04-01" { fileinto "day"; }
      if date :originalzone "date" "iso8601" "1997-04-01T09:06:31-08:00" { fileinto "iso"; }
      if date :originalzone "date" "weekday" "2" { fileinto "tuesday"; }
      if date :originalzone "date" "julian" "50539" { fileinto "julian"; }
      if date :originalzone "date" "zone" "-0800" { fileinto "zone"; }
      if date :zone "+0000" "date" "std11" "Tue, 1 Apr 1997 17:06:31 +0000" { fileinto "std11"; }
      if date :zone "+0000" :value "ge" "date" "time" "17:00:00" { fileinto "late"; }`;
    expect(filed(run(s, m))).toEqual(['orig9', 'utc17', 'day', 'iso', 'tuesday', 'julian', 'zone', 'std11', 'late']);
  });
  it('currentdate uses the clock of the environment (§5)', () => {
    const s = `require ["date", "relational", "fileinto"];
      if allof (currentdate :value "ge" "date" "2026-12-01", currentdate :value "le" "date" "2026-12-31") { fileinto "december"; }
      if currentdate :zone "+0130" "hour" "11" { fileinto "zoned"; }`;
    expect(filed(run(s, m))).toEqual(['december', 'zoned']);
  });
  it(':index picks the Nth field, :last counts from the end (§6)', () => {
    const s = `require ["date", "index", "fileinto"];
      if date :index 1 :zone "+0000" "received" "minute" "10" { fileinto "first"; }
      if date :index 1 :last :zone "+0000" "received" "minute" "07" { fileinto "last"; }
      if header :index 2 :contains "received" "from a" { fileinto "second"; }
      if header :index 3 "received" "" { fileinto "never"; }`;
    expect(filed(run(s, m))).toEqual(['first', 'last', 'second']);
  });
  it('an unreadable date field makes the test false', () => {
    expect(filed(run('require ["date", "fileinto"]; if date "date" "year" "1997" { fileinto "y"; }', msg(['Date: yesterday', '', ''])))).toEqual(['keep']);
  });
});

describe('duplicate (RFC 7352)', () => {
  it('tests the Message-ID against the history and asks to remember it (§3)', () => {
    const seen = new Set<string>();
    const env = { isDuplicate: (h: string, id: string) => seen.has(`${h}|${id}`) };
    const s = 'require ["duplicate", "fileinto"]; if duplicate { fileinto "Trash"; }';
    const r1 = runScript(s, { message: sieveMessage(msg(['Message-ID: <a@b>', '', ''])), envelope: { from: '', to: 'x@y' }, now: new Date(), ...env });
    expect(r1.actions).toEqual([keep]);
    expect(r1.duplicates).toEqual([{ handle: '', id: '<a@b>', seconds: 7 * 86400 }]);
    seen.add('|<a@b>');
    const r2 = runScript(s, { message: sieveMessage(msg(['Message-ID: <a@b>', '', ''])), envelope: { from: '', to: 'x@y' }, now: new Date(), ...env });
    expect(r2.actions).toEqual([into('Trash')]);
    // Without :last a seen id is not refreshed (§3.3).
    expect(r2.duplicates).toEqual([]);
  });
  it(':header, :uniqueid, :handle and :seconds (§3.1-3.3)', () => {
    const r = runScript('require ["duplicate", "variables"]; if header :matches "subject" "ALERT: *" { if duplicate :seconds 60 :last :uniqueid "${1}" :handle "alerts" { discard; } } if duplicate :header "x-event" { keep; }', {
      message: sieveMessage(msg(['Subject: ALERT: disk full', 'X-Event: e1', '', ''])),
      envelope: { from: '', to: 'x@y' },
      now: new Date(),
      isDuplicate: () => false,
    });
    expect(r.duplicates).toEqual([
      { handle: 'alerts', id: 'disk full', seconds: 60 },
      { handle: '', id: 'e1', seconds: 7 * 86400 },
    ]);
  });
});

describe('spamtest and spamtestplus (RFC 3685, RFC 5235)', () => {
  const s = `require ["spamtestplus", "relational", "comparator-i;ascii-numeric", "fileinto"];
    if spamtest :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "untested"; }
    elsif spamtest :value "ge" :comparator "i;ascii-numeric" "5" { fileinto "spam5"; }
    if spamtest :percent :value "gt" :comparator "i;ascii-numeric" "80" { fileinto "p80"; }`;
  it('"0" means not tested (RFC 3685 §2.3)', () => {
    expect(filed(run(s, undefined, { spam: null }))).toEqual(['untested']);
  });
  it('compares the 1..10 value and the percent (RFC 5235 §3.2)', () => {
    expect(filed(run(s, undefined, { spam: { value: 9, percent: 90 } }))).toEqual(['spam5', 'p80']);
    expect(filed(run(s, undefined, { spam: { value: 1, percent: 0 } }))).toEqual(['keep']);
  });
  it(':percent needs spamtestplus', () => {
    expect(() => run('require "spamtest"; if spamtest :percent "1" { keep; }')).toThrow(/spamtestplus/);
  });
});
