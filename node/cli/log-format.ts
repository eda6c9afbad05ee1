/**
 * @module node/cli/log-format
 * `haven start` on a terminal: the node's pino lines as short readable text
 * (time, level, protocol and connection, message, the remaining fields)
 * instead of JSON. Same logger, same redaction; only the rendering differs.
 * Under systemd or with output redirected the JSON lines stay as they are.
 */
import pino from 'pino';
import { loggerOptions, type Logger } from '../util/log.js';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SHOWN_FIRST = new Set(['level', 'time', 'msg', 'proto', 'cid', 'mod']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v !== null && typeof v === 'object' && 'message' in v) return JSON.stringify((v as { message: unknown }).message);
  return JSON.stringify(v);
}

/** One pino JSON line to one line of text; anything that is not JSON passes through. */
export function formatLogLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : json + '\n';
  }
  const t = typeof o.time === 'number' ? new Date(o.time).toTimeString().slice(0, 8) : '--:--:--';
  const level = (LEVELS[o.level as number] ?? String(o.level)).padEnd(5);
  const where = [o.proto ?? o.mod, o.cid].filter((x) => x !== undefined).join('#');
  const fields = Object.entries(o)
    .filter(([k]) => !SHOWN_FIRST.has(k))
    .map(([k, v]) => `${k}=${value(v)}`);
  return [t, level, where ? `[${where}]` : '', o.msg ?? '', ...fields].filter((s) => s !== '').join(' ') + '\n';
}

/** A node logger writing readable lines to stderr (a terminal). */
export function terminalLogger(level: string): Logger {
  return pino(loggerOptions(level), { write: (line: string) => void process.stderr.write(formatLogLine(line)) });
}
