/**
 * @module node/config/options
 * The building blocks of the config schema: one `Opt` per option, carrying
 * its zod schema, default, help text, the type and expectation shown to
 * people, and how text from the environment (or a size like "50MB" in the
 * file) becomes a value. The schema, the docs table, the example file and
 * every error message are all derived from these, so they cannot drift.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

export interface Opt<T> {
  readonly kind: 'opt';
  /** Validates a value after `coerce`. */
  readonly schema: z.ZodType<T>;
  readonly default: T;
  readonly help: string;
  /** Short type name for the docs table. */
  readonly type: string;
  /** What a valid value looks like, phrased to follow "expected". */
  readonly expect: string;
  /** Never echoed in errors, left empty in the example file. */
  readonly secret: boolean;
  /** Relative values are resolved against the file's directory or the working directory. */
  readonly isPath: boolean;
  /** Replaces the default in docs when the stored default is a sentinel ("" or 0). */
  readonly defaultDoc?: string;
  /** Turns text (environment, or a string in the file) into the option's type; returns its input when it cannot. */
  coerce(raw: unknown): unknown;
}

interface Common {
  help: string;
  secret?: boolean;
  defaultDoc?: string;
}

function make<T>(o: Omit<Opt<T>, 'kind' | 'secret' | 'isPath' | 'coerce'> & { secret?: boolean; isPath?: boolean; coerce?: (raw: unknown) => unknown }): Opt<T> {
  return { kind: 'opt', secret: false, isPath: false, coerce: (raw) => raw, ...o };
}

const INT_TEXT = /^\s*-?\d+\s*$/;
const NUM_TEXT = /^\s*-?\d+(\.\d+)?\s*$/;

function intFromText(raw: unknown): unknown {
  return typeof raw === 'string' && INT_TEXT.test(raw) ? Number(raw) : raw;
}

export function port(def: number, c: Common): Opt<number> {
  return make({
    schema: z.number().int().min(0).max(65535),
    default: def,
    type: 'port',
    expect: 'a port number 0-65535 (0 picks a free port)',
    coerce: intFromText,
    ...c,
  });
}

export function int(def: number, c: Common & { min: number; max?: number }): Opt<number> {
  const max = c.max ?? Number.MAX_SAFE_INTEGER;
  return make({
    schema: z.number().int().min(c.min).max(max),
    default: def,
    type: 'integer',
    expect: c.max === undefined ? `an integer >= ${c.min}` : `an integer ${c.min}-${c.max}`,
    coerce: intFromText,
    help: c.help,
    defaultDoc: c.defaultDoc,
  });
}

export function num(def: number, c: Common & { min: number }): Opt<number> {
  return make({
    schema: z.number().min(c.min).finite(),
    default: def,
    type: 'number',
    expect: `a number >= ${c.min}`,
    coerce: (raw) => (typeof raw === 'string' && NUM_TEXT.test(raw) ? Number(raw) : raw),
    help: c.help,
  });
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** "50MB", "64 KiB", "1048576" → bytes (binary multiples: operators think of MB as 2^20 here). */
export function parseSize(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
  const mult = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  return m && mult !== undefined ? Math.round(Number(m[1]) * mult) : raw;
}

export function bytes(def: number, c: Common & { min: number }): Opt<number> {
  return make({
    schema: z.number().int().min(c.min).max(Number.MAX_SAFE_INTEGER),
    default: def,
    type: 'bytes',
    expect: `a size in bytes >= ${c.min}, like 52428800 or "50MB" (K/M/G are 1024-based)`,
    coerce: parseSize,
    help: c.help,
    defaultDoc: c.defaultDoc,
  });
}

const DURATION_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

/** "30m", "1h", "900s", "900" → seconds. */
export function parseDuration(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  const m = /^\s*(\d+)\s*([smhd]?)\s*$/i.exec(raw);
  return m ? Number(m[1]) * DURATION_UNITS[m[2].toLowerCase()] : raw;
}

export function seconds(def: number, c: Common & { min: number }): Opt<number> {
  return make({
    schema: z.number().int().min(c.min).max(Number.MAX_SAFE_INTEGER),
    default: def,
    type: 'seconds',
    expect: `a duration >= ${c.min} seconds, like 900 or "15m" (s, m, h, d)`,
    coerce: parseDuration,
    help: c.help,
  });
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function bool(def: boolean, c: Common): Opt<boolean> {
  return make({
    schema: z.boolean(),
    default: def,
    type: 'boolean',
    expect: 'true or false (also 1/0, yes/no, on/off)',
    coerce: (raw) => {
      if (typeof raw !== 'string') return raw;
      const t = raw.trim().toLowerCase();
      return TRUE.has(t) ? true : FALSE.has(t) ? false : raw;
    },
    ...c,
  });
}

export function oneOf<const V extends readonly [string, ...string[]]>(values: V, def: V[number], c: Common): Opt<V[number]> {
  return make({
    schema: z.enum(values) as unknown as z.ZodType<V[number]>,
    default: def,
    type: values.join(' \\| '),
    expect: `one of ${values.join(', ')}`,
    coerce: (raw) => (typeof raw === 'string' ? raw.trim() : raw),
    ...c,
  });
}

/**
 * A string, optionally checked by `check` (returns a problem phrased as an
 * expectation, or undefined when fine). Empty is always allowed when
 * `allowEmpty` is set: empty is how an optional feature is turned off.
 */
export function str(def: string, c: Common & { expect?: string; check?: (v: string) => string | undefined; allowEmpty?: boolean; isPath?: boolean; type?: string }): Opt<string> {
  const expect = c.expect ?? 'a string';
  let schema: z.ZodType<string> = z.string();
  if (c.check || c.allowEmpty === false) {
    const check = c.check;
    schema = z.string().superRefine((v, ctx) => {
      if (v === '' && c.allowEmpty !== false) return;
      if (v === '') {
        ctx.addIssue({ code: 'custom', message: expect });
        return;
      }
      const problem = check?.(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
  }
  return make({
    schema,
    default: def,
    type: c.type ?? (c.isPath ? 'path' : 'string'),
    expect,
    help: c.help,
    secret: c.secret,
    isPath: c.isPath,
    defaultDoc: c.defaultDoc,
  });
}

export function list(def: readonly string[], c: Common & { item: string; check?: (v: string) => string | undefined }): Opt<readonly string[]> {
  const check = c.check;
  const item = check
    ? z.string().superRefine((v, ctx) => {
        const problem = check(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
    : z.string();
  return make({
    schema: z.array(item) as unknown as z.ZodType<readonly string[]>,
    default: def,
    type: 'list',
    expect: `a list of ${c.item} (in the environment: comma-separated)`,
    coerce: (raw) => {
      if (typeof raw !== 'string') return raw;
      const t = raw.trim();
      if (t.startsWith('[')) {
        try {
          return JSON.parse(t) as unknown;
        } catch {
          return raw;
        }
      }
      return t === '' ? [] : t.split(',').map((s) => s.trim()).filter((s) => s !== '');
    },
    help: c.help,
  });
}

// ---- checks shared by several options -------------------------------------

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

export function checkHostname(v: string): string | undefined {
  const ok = v.length <= 253 && v.split('.').every((l) => LABEL.test(l));
  return ok ? undefined : 'a DNS hostname like mail.example.com (letters, digits, hyphens and dots)';
}

export function checkIp(v: string): string | undefined {
  return isIP(v) ? undefined : 'an IP address like 127.0.0.1, 0.0.0.0 (all IPv4) or :: (all IPv4 and IPv6)';
}

export function parseUrl(v: string): URL | undefined {
  try {
    return new URL(v);
  } catch {
    return undefined;
  }
}
