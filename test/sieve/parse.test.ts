/**
 * Sieve grammar (RFC 5228 §8) and validation (§2.10.5, §3.2): every error
 * names its line and column; tokens are read whole whatever their form.
 */
import { describe, expect, it } from 'vitest';
import { compile, SieveSyntaxError } from '../../node/sieve/index.js';
import { tokenize } from '../../node/sieve/lexer.js';
import { parseScript } from '../../node/sieve/parse.js';

function errorOf(src: string): SieveSyntaxError {
  try {
    compile(src);
  } catch (err) {
    if (err instanceof SieveSyntaxError) return err;
    throw err;
  }
  throw new Error('compiled without error');
}

describe('lexer (RFC 5228 §8.1)', () => {
  it('reads numbers with K/M/G quantifiers (§2.4.1)', () => {
    const t = tokenize('1 2K 3M 1G');
    expect(t.slice(0, 4).map((x) => (x as { value: number }).value)).toEqual([1, 2048, 3 * 1024 * 1024, 1024 ** 3]);
  });

  it('unescapes quoted strings: \\" and \\\\ are the only meaningful escapes (§2.4.2)', () => {
    const t = tokenize('"a\\"b\\\\c\\d"');
    expect(t[0]).toMatchObject({ kind: 'string', value: 'a"b\\cd' });
  });

  it('reads text: multi-line strings with dot-unstuffing (§2.4.2)', () => {
    const t = tokenize('text: # comment\r\nline one\r\n..dotted\r\n.\r\n;');
    expect(t[0]).toMatchObject({ kind: 'string', value: 'line one\r\n.dotted\r\n' });
    expect(t[1]).toMatchObject({ kind: 'punct', value: ';' });
  });

  it('skips hash and bracketed comments (§2.3) and keeps line numbers through them', () => {
    const t = tokenize('# one\n/* two\nthree */ keep;');
    expect(t[0]).toMatchObject({ kind: 'identifier', value: 'keep', pos: { line: 3, column: 10 } });
  });

  it('gives the same tokens however the script is split into lines', () => {
    const src = 'if header :contains "Subject" "x" {\r\n  fileinto "A";\r\n}\r\n';
    const a = parseScript(src);
    const b = parseScript(src.replace(/\r\n/g, '\n'));
    expect(JSON.stringify(a.map((c) => c.name))).toBe(JSON.stringify(b.map((c) => c.name)));
  });
});

describe('parser and validator', () => {
  it('parses the RFC 5228 §9 example script', () => {
    const src = `
#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
`;
    const p = compile(src);
    expect(p.commands.map((c) => c.name)).toEqual(['if', 'elsif', 'elsif', 'else']);
    expect(p.extensions.has('fileinto')).toBe(true);
  });

  it('refuses an extension used without require (§3.2)', () => {
    const e = errorOf('\nfileinto "x";');
    expect(e.message).toContain('require "fileinto"');
    expect(e.pos).toEqual({ line: 2, column: 1 });
  });

  it('refuses an unknown extension in require (§3.2)', () => {
    expect(errorOf('require "enotify";').message).toContain('unsupported extension "enotify"');
  });

  it('refuses require after another command (§3.2)', () => {
    expect(errorOf('keep;\nrequire "fileinto";').pos.line).toBe(2);
  });

  it('names line and column of a missing semicolon', () => {
    const e = errorOf('keep;\nif true {\n  discard\n}');
    expect(e.pos).toEqual({ line: 4, column: 1 });
    expect(e.message).toMatch(/expected ";" or "\{"/);
  });

  it('refuses an unterminated string, block and text:', () => {
    expect(errorOf('if true { keep;').message).toContain('missing "}"');
    expect(errorOf('keep; "abc').pos).toEqual({ line: 1, column: 7 });
    expect(errorOf('require "vacation"; vacation text:\nno end\n').message).toContain('unterminated text:');
  });

  it('refuses elsif/else without if (§3.1), unknown commands and tests, wrong arguments', () => {
    expect(errorOf('else { keep; }').message).toContain('must follow');
    expect(errorOf('frobnicate;').message).toContain('unknown command "frobnicate"');
    expect(errorOf('if frob { keep; }').message).toContain('unknown test "frob"');
    expect(errorOf('if header :is "a" { keep; }').message).toContain('takes 2 arguments');
    expect(errorOf('if size 10 { keep; }').message).toContain(':over or :under');
    expect(errorOf('if header :is :contains "a" "b" { keep; }').message).toContain('cannot be used with');
    expect(errorOf('if header :comparator "i;foo" "a" "b" { keep; }').message).toContain('unknown comparator');
    expect(errorOf('keep { }').message).toContain('takes no block');
    expect(errorOf('if true;').message).toContain('needs a block');
  });

  it('refuses a relational operator that does not exist (RFC 5231 §5)', () => {
    expect(errorOf('require "relational"; if header :value "xx" "a" "b" { keep; }').message).toContain(':value needs one of');
  });

  it('refuses i;ascii-numeric without its require (RFC 5231 §4)', () => {
    expect(errorOf('if header :comparator "i;ascii-numeric" "a" "1" { keep; }').message).toContain('comparator-i;ascii-numeric');
  });

  it('limits nesting so a hostile script cannot exhaust the stack', () => {
    const deep = 'if true {'.repeat(100) + 'keep;' + '}'.repeat(100);
    expect(errorOf(deep).message).toContain('nested too deeply');
    const tests = 'if ' + 'not '.repeat(200) + 'true { keep; }';
    expect(errorOf(tests).message).toContain('nested too deeply');
  });
});

describe('fuzz-ish robustness', () => {
  const src = 'require ["fileinto", "variables"];\r\nif header :matches "subject" "*x*" {\r\n  set "a" text:\r\nhello\r\n.\r\n;\r\n  fileinto "${a}";\r\n} # end\r\n';
  it('every prefix of a valid script either compiles or fails with a SieveSyntaxError, never anything else', () => {
    for (let i = 0; i <= src.length; i++) {
      try {
        compile(src.slice(0, i));
      } catch (err) {
        expect(err).toBeInstanceOf(SieveSyntaxError);
      }
    }
  });
});

describe('random input', () => {
  it('never throws anything but SieveSyntaxError, however mangled the script (seeded)', async () => {
    const { rng } = await import('../helpers/rng.js');
    const rand = rng(17);
    const alphabet = ['if', 'header', ':is', ':matches', '"x"', '"', '[', ']', '(', ')', ',', ';', '{', '}', 'text:', '\r\n', '.', '#', '/*', '*/', '\\', '1K', 'require', 'fileinto', ' ', 'anyof', 'not', ':comparator', '${1}', '\0', 'é'];
    for (let n = 0; n < 2000; n++) {
      const len = 1 + Math.floor(rand() * 30);
      let src = '';
      for (let i = 0; i < len; i++) src += alphabet[Math.floor(rand() * alphabet.length)];
      try {
        compile(src);
      } catch (err) {
        if (!(err instanceof SieveSyntaxError)) throw new Error(`${JSON.stringify(src)}: ${(err as Error).stack}`);
      }
    }
  });
});
