/**
 * @module node/failover/witness
 * The standby's own look at the primary (the rule is witness-rule): every
 * failover.witness.intervalMs while standing by, its /health, its SMTP
 * greeting and its IMAPS greeting, each within failover.witness.timeoutMs,
 * from this node's datacentre, on the primary's own address
 * (failover.witness.host: its own name or IP, not the Floating IPs, which
 * follow whoever is primary).
 *
 * Certificates are not verified: the question is whether the primary's
 * process answers, not who it is. Someone who can impersonate the primary on
 * the path from the standby can only hold back an automatic promotion, never
 * cause one; `haven promote` is not subject to the witness.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Config } from '../config/index.js';
import type { Logger } from '../util/log.js';
import { INITIAL_WITNESS, judge, observe, type CheckResult, type EdgeEvidence, type Verdict, type WitnessRule, type WitnessState } from './witness-rule.js';

export interface WitnessView {
  enabled: boolean;
  /** What is checked, e.g. https://fsn1.mail.example.com/health, smtp 25, imaps 993. */
  target: { healthUrl: string | null; host: string; smtpPort: number; imapsPort: number } | null;
  agreementMs: number;
  state: WitnessState;
}

export interface Witness {
  view(): WitnessView;
  judge(evidence: EdgeEvidence | null): Verdict;
  /** One round of checks now (the loop runs them on its own; tests and the CLI may ask). */
  round(): Promise<WitnessState>;
  close(): void;
}

const LINE_MAX = 2048;

/** The first complete reply line (SMTP multi-line greetings: the last line, `220 `). */
function greeting(sock: net.Socket, done: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, '');
        buf = buf.slice(i + 1);
        if (done(line)) return resolve(line);
      }
      if (buf.length > LINE_MAX) reject(new Error('an over-long greeting line'));
    });
    sock.once('error', reject);
    sock.once('close', () => reject(new Error('closed before a greeting')));
  });
}

async function withTimeout<T>(ms: number, what: string, sock: net.Socket | null, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms / 1000} s`)), ms)))]);
  } finally {
    clearTimeout(timer);
    sock?.destroy();
  }
}

const why = (err: unknown) => ((err as NodeJS.ErrnoException).code ?? (err as Error).message).toString().slice(0, 200);

export async function checkSmtp(host: string, port: number, timeoutMs: number): Promise<CheckResult> {
  const sock = net.connect({ host, port });
  try {
    // RFC 5321 §4.2: a greeting may run over several lines ("220-"); the last has a space after the code.
    const line = await withTimeout(timeoutMs, 'SMTP greeting', sock, greeting(sock, (l) => /^\d{3}( |$)/.test(l)).then((l) => {
      sock.end('QUIT\r\n');
      return l;
    }));
    const ok = line.startsWith('220');
    return { name: 'smtp', ok, detail: ok ? '220 greeting' : `greeted ${line.slice(0, 3)}` };
  } catch (err) {
    return { name: 'smtp', ok: false, detail: why(err) };
  }
}

export async function checkImaps(host: string, port: number, timeoutMs: number): Promise<CheckResult> {
  const sock = tls.connect({ host, port, rejectUnauthorized: false, ...(net.isIP(host) ? {} : { servername: host }) });
  try {
    // RFC 9051 §7.1.1: the server's greeting is `* OK`, `* PREAUTH` or `* BYE` (which refuses the connection).
    const line = await withTimeout(timeoutMs, 'IMAP greeting', sock, greeting(sock, (l) => l.startsWith('* ')).then((l) => {
      sock.end('w LOGOUT\r\n');
      return l;
    }));
    const ok = /^\* (OK|PREAUTH)\b/i.test(line);
    return { name: 'imaps', ok, detail: ok ? 'TLS and * OK greeting' : `greeted ${line.slice(0, 40)}` };
  } catch (err) {
    return { name: 'imaps', ok: false, detail: why(err) };
  }
}

/** The same rule the edge applies to the same endpoint: 200 and a report whose ok is not false. */
export function checkHealth(url: string, timeoutMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const get = u.protocol === 'https:' ? https.get : http.get;
    const req = get(u, { timeout: timeoutMs, rejectUnauthorized: false, headers: { accept: 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 65536) body += d;
      });
      res.on('end', () => {
        let ok: unknown;
        try {
          ok = (JSON.parse(body) as { ok?: unknown }).ok;
        } catch {
          ok = undefined;
        }
        const up = res.statusCode === 200 && ok !== false;
        resolve({ name: 'health', ok: up, detail: up ? '200 ok' : `answered ${res.statusCode}` });
      });
      res.on('error', (err) => resolve({ name: 'health', ok: false, detail: why(err) }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (err) => resolve({ name: 'health', ok: false, detail: why(err) }));
  });
}

export function witnessTarget(config: Config): WitnessView['target'] {
  const w = config.failover.witness;
  if (!w.host) return null;
  const hostInUrl = net.isIPv6(w.host) ? `[${w.host}]` : w.host;
  return { healthUrl: w.healthUrl || `https://${hostInUrl}/health`, host: w.host, smtpPort: w.smtpPort, imapsPort: w.imapsPort };
}

export function startWitness(config: Config, log: Logger, now: () => number = Date.now): Witness {
  const w = config.failover.witness;
  const target = witnessTarget(config);
  const rule: WitnessRule = { enabled: target !== null, agreementMs: w.agreementMs, staleMs: Math.max(3 * w.intervalMs, 2 * w.timeoutMs + w.intervalMs) };
  let state: WitnessState = INITIAL_WITNESS;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let running: Promise<WitnessState> | null = null;

  const round = (): Promise<WitnessState> =>
    (running ??= (async () => {
      if (!target) return state;
      const checks = await Promise.all([
        target.healthUrl ? checkHealth(target.healthUrl, w.timeoutMs) : null,
        target.smtpPort ? checkSmtp(target.host, target.smtpPort, w.timeoutMs) : null,
        target.imapsPort ? checkImaps(target.host, target.imapsPort, w.timeoutMs) : null,
      ]);
      const before = state;
      state = observe(state, now(), checks.filter((c): c is CheckResult => c !== null));
      // Transitions only: one line when the primary stops answering here and one when it answers again.
      if (before.last?.up !== false && !state.last!.up) log.warn({ checks: state.last!.checks }, 'standby witness: the primary does not answer from here');
      if (before.last?.up === false && state.last!.up) log.info({ checks: state.last!.checks }, 'standby witness: the primary answers again');
      return state;
    })().finally(() => {
      running = null;
    }));

  const loop = () => {
    if (closed) return;
    void round().finally(() => {
      if (!closed) timer = setTimeout(loop, w.intervalMs).unref();
    });
  };
  if (target) loop();
  else log.warn('standby witness: failover.witness.host is empty, so the standby takes the edge\'s word for an automatic promotion');

  return {
    view: () => ({ enabled: rule.enabled, target, agreementMs: rule.agreementMs, state }),
    judge: (evidence) => judge(rule, state, now(), evidence),
    round,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** One line for people (`haven promote`, `haven standby status`): what the witness sees now. */
export function witnessSummary(v: WitnessView, now: number = Date.now()): string {
  if (!v.enabled || !v.target) return 'witness: off (failover.witness.host is empty): the edge\'s automatic promotion is taken on its word';
  const last = v.state.last;
  if (!last) return `witness: has not checked the primary at ${v.target.host} yet`;
  const checks = last.checks.map((c) => `${c.name} ${c.ok ? 'up' : 'down'} (${c.detail})`).join(', ');
  const ago = `${Math.round((now - last.at) / 1000)} s ago`;
  if (last.up) return `witness: the primary at ${v.target.host} answers from here (${checks}), ${ago}; the edge's automatic promotion would be refused`;
  const age = now - (v.state.failingSince ?? now);
  return `witness: the primary at ${v.target.host} has failed every check from here for ${Math.round(age / 1000)} s (${checks}), ${ago}; the edge's automatic promotion ${age >= v.agreementMs ? 'would be accepted' : `would be refused for another ${Math.ceil((v.agreementMs - age) / 1000)} s`}`;
}
