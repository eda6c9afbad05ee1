/**
 * @module node/config/load
 * Builds the running configuration from its layers, lowest to highest:
 * embedded defaults, the config file (`--config` or HAVEN_CONFIG), the
 * environment (HAVEN_<OPTION>), then programmatic overrides (tests, CLI
 * flags). Every problem in every layer is collected into one ConfigError that
 * names the option, its variable, the value and where it came from. Loading
 * only reads: it never creates the data directory or any file.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type ConfigProblem } from './errors.js';
import { configSchema, isOpt, OPTION_LIST, OPTIONS, type Config, type OptionInfo } from './schema.js';

/** A partial config in the file's shape, for `overrides`. */
export type ConfigInput = { readonly [k: string]: unknown };

export interface LoadConfigOptions {
  /** Command-line arguments; only `--config <path>` / `--config=<path>` is read. */
  argv?: readonly string[];
  /** The environment; pass `process.env` in the node, `{}` in tests for isolation. */
  env: Readonly<Record<string, string | undefined>>;
  /** Config file path; wins over `--config` and HAVEN_CONFIG. */
  file?: string;
  /** Highest-priority values in the file's shape (tests, CLI flags). */
  overrides?: ConfigInput;
  /** Base for relative paths from defaults, the environment and overrides. Default: process.cwd(). */
  cwd?: string;
}

export const CONFIG_ENV = 'HAVEN_CONFIG';
/** HAVEN_ variables that are not options and so are not reported as unknown. */
const NOT_OPTIONS = new Set([CONFIG_ENV]);

type Source = { kind: 'default' } | { kind: 'file'; file: string } | { kind: 'env'; name: string } | { kind: 'overrides' };

interface Picked {
  raw: unknown;
  source: Source;
}

const BY_ENV = new Map(OPTION_LIST.map((o) => [o.env, o]));
const BY_PATH = new Map(OPTION_LIST.map((o) => [o.path, o]));
/** Option paths and section paths ("tls.acme"), the candidates for "did you mean". */
const FILE_KEYS = [...new Set(OPTION_LIST.flatMap((o) => o.keys.map((_, i) => o.keys.slice(0, i + 1).join('.'))))];

export function loadConfig(opts: LoadConfigOptions): Config {
  const cwd = opts.cwd ?? process.cwd();
  const problems: ConfigProblem[] = [];
  const layers: { values: Map<string, unknown>; source: Source }[] = [];

  const file = pickConfigFile(opts, problems);
  if (file) {
    const path = resolve(cwd, file.path);
    const doc = readConfigFile(path, file.from, problems);
    if (doc !== undefined) layers.push({ values: collect(doc, { kind: 'file', file: path }, problems), source: { kind: 'file', file: path } });
  }
  layers.push({ values: collectEnv(opts.env, problems), source: { kind: 'env', name: '' } });
  if (opts.overrides) layers.push({ values: collect(opts.overrides, { kind: 'overrides' }, problems), source: { kind: 'overrides' } });

  const raw: Record<string, unknown> = {};
  const picked = new Map<string, Picked>();
  for (const info of OPTION_LIST) {
    let p: Picked = { raw: info.opt.default, source: { kind: 'default' } };
    for (const layer of layers) {
      if (!layer.values.has(info.path)) continue;
      const value = layer.values.get(info.path);
      const source: Source = layer.source.kind === 'env' ? { kind: 'env', name: info.env } : layer.source;
      p = { raw: value, source };
    }
    picked.set(info.path, p);
    let value = p.source.kind === 'default' ? p.raw : info.opt.coerce(p.raw);
    if (info.opt.isPath && typeof value === 'string' && value !== '' && !isAbsolute(value)) {
      value = resolve(p.source.kind === 'file' ? dirname(p.source.file) : cwd, value);
    }
    setPath(raw, info.keys, value);
  }

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const seen = new Set<string>();
    for (const issue of result.error.issues) {
      const info = findOption(issue.path.map(String));
      if (!info) {
        problems.push({ option: issue.path.join('.'), message: `${issue.path.join('.') || 'config'}: ${issue.message}` });
        continue;
      }
      if (seen.has(info.path)) continue; // one line per option: the first issue says enough
      seen.add(info.path);
      const p = picked.get(info.path)!;
      const expected = issue.code === 'custom' ? issue.message : info.opt.expect;
      problems.push({
        option: info.path,
        env: info.env,
        message: `${info.path} (${info.env}): got ${show(p.raw, info.opt.secret)} ${where(p.source)}; expected ${expected}`,
      });
    }
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);

  const config = result.data as Config & { limits: { imapMaxLiteralBytes: number } };
  if (config.limits.imapMaxLiteralBytes === 0) config.limits.imapMaxLiteralBytes = config.limits.maxMessageBytes;
  return deepFreeze(config);
}

/** The config file to read, if any: `file`, then `--config`, then HAVEN_CONFIG. */
function pickConfigFile(opts: LoadConfigOptions, problems: ConfigProblem[]): { path: string; from: string } | undefined {
  if (opts.file !== undefined) return { path: opts.file, from: 'the caller' };
  const argv = opts.argv ?? [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--config=')) return { path: a.slice('--config='.length), from: '--config' };
    if (a === '--config') {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        problems.push({ option: '--config', message: '--config needs a path: --config /etc/haven/haven.yaml' });
        return undefined;
      }
      return { path: next, from: '--config' };
    }
  }
  const env = opts.env[CONFIG_ENV];
  if (env) return { path: env, from: CONFIG_ENV };
  return undefined;
}

function readConfigFile(path: string, from: string, problems: ConfigProblem[]): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    problems.push({ option: from, message: `config file ${path} (given by ${from}) cannot be read (${code}); create it or point ${from} at an existing file` });
    return undefined;
  }
  let doc: unknown;
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both formats.
    doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const first = String((err as Error).message).split('\n')[0];
    problems.push({ option: from, message: `config file ${path} is not valid YAML or JSON: ${first}; fix the file and start again` });
    return undefined;
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    problems.push({ option: from, message: `config file ${path} must hold a mapping of options (like "dataDir: /var/lib/haven"), not ${Array.isArray(doc) ? 'a list' : typeof doc}` });
    return undefined;
  }
  return doc;
}

/** Flattens a file-shaped object to option paths, reporting keys that are no option. */
function collect(doc: unknown, source: Source, problems: ConfigProblem[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const origin = source.kind === 'file' ? `in ${source.file}` : 'in overrides';
  const walk = (node: Record<string, unknown>, tree: Record<string, unknown>, prefix: string[]) => {
    for (const [k, v] of Object.entries(node)) {
      const keys = [...prefix, k];
      const path = keys.join('.');
      const spec = Object.hasOwn(tree, k) ? tree[k] : undefined;
      if (spec === undefined) {
        const guess = suggest(path, FILE_KEYS);
        problems.push({ option: path, message: `unknown option "${path}" ${origin}${guess ? `; did you mean "${guess}"?` : ''} (every option is listed in docs/configuration.md)` });
      } else if (isOpt(spec)) {
        // `key:` with nothing after it reads as null in YAML: treat it as unset.
        if (v !== null) out.set(path, v);
      } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
        walk(v as Record<string, unknown>, spec as Record<string, unknown>, keys);
      } else if (v !== null) {
        problems.push({ option: path, message: `${path}: got ${show(v, false)} ${origin}; expected a section with the keys ${Object.keys(spec as object).join(', ')}` });
      }
    }
  };
  walk(doc as Record<string, unknown>, OPTIONS as unknown as Record<string, unknown>, []);
  return out;
}

function collectEnv(env: LoadConfigOptions['env'], problems: ConfigProblem[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('HAVEN_') || value === undefined || NOT_OPTIONS.has(name)) continue;
    const info = BY_ENV.get(name);
    if (info) {
      out.set(info.path, value);
      continue;
    }
    // A typo in a variable would otherwise silently leave the default in force.
    const guess = suggest(name, [...BY_ENV.keys()]);
    problems.push({ option: name, message: `unknown environment variable ${name}${guess ? `; did you mean ${guess}?` : ''} (unset it; every option is listed in docs/configuration.md)` });
  }
  return out;
}

function findOption(path: string[]): OptionInfo | undefined {
  for (let n = path.length; n > 0; n--) {
    const info = BY_PATH.get(path.slice(0, n).join('.'));
    if (info) return info;
  }
  return undefined;
}

function where(s: Source): string {
  switch (s.kind) {
    case 'default':
      return 'as the default';
    case 'file':
      return `in ${s.file}`;
    case 'env':
      return `from the environment`;
    case 'overrides':
      return 'in overrides';
  }
}

function show(v: unknown, secret: boolean): string {
  if (secret && typeof v === 'string' && v !== '') return `(hidden, ${v.length} characters)`;
  const text = v === undefined ? 'nothing' : JSON.stringify(v);
  return text.length > 80 ? text.slice(0, 77) + '...' : text;
}

function setPath(obj: Record<string, unknown>, keys: readonly string[], value: unknown): void {
  let node = obj;
  for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
  node[keys[keys.length - 1]] = value;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

/** The closest candidate within a small edit distance, for "did you mean". */
function suggest(word: string, candidates: string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Math.max(3, Math.floor(w.length / 4)) + 1;
  for (const c of candidates) {
    const d = distance(w, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
