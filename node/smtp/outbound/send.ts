/**
 * @module node/smtp/outbound/send
 * One SMTP transaction to one address through nodemailer's SMTP connection:
 * STARTTLS opportunistic (or required, with a validated certificate, when
 * MTA-STS enforces or the smarthost asks), optional AUTH for a smarthost,
 * and a per-recipient outcome. A failure to reach or greet the host is told
 * apart from replies, so the caller can move on to the next address or MX.
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { isSourceBindError } from './source.js';

export interface SendTarget {
  /** IP address or host name to connect to. */
  address: string;
  port: number;
  /** Name the host should present a certificate for (the MX name). */
  servername: string;
  /** Implicit TLS (smarthost on 465). */
  secure?: boolean;
  requireTls: boolean;
  /** Validate the certificate (MTA-STS enforce, smarthost). */
  verifyCert: boolean;
  ca?: string | Buffer | (string | Buffer)[];
  auth?: { user: string; pass: string };
  /** Local address to connect from (outbound.sourceAddresses, node/smtp/outbound/source). */
  localAddress?: string;
}

export interface SendJob {
  heloName: string;
  mailFrom: string;
  rcpts: string[];
  raw: Buffer;
  timeoutMs: number;
}

export type RcptOutcome = { rcpt: string; code: number | null; response: string };

export type SendResult =
  /** The host could not be reached or would not talk to us: try the next one. */
  | { kind: 'unreachable'; error: string }
  /** target.localAddress could not be bound (not on this machine): nothing was sent; try again without it. */
  | { kind: 'source-unavailable'; error: string }
  | { kind: 'done'; outcomes: RcptOutcome[] };

interface MailerError extends Error {
  code?: string;
  /** The system error's own code (EADDRNOTAVAIL) once nodemailer has set `code` to its own (ESOCKET). */
  originalCode?: string;
  syscall?: string;
  responseCode?: number;
  response?: string;
  recipient?: string;
  rejectedErrors?: MailerError[];
}

const CONNECT_PHASE = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EPROTOCOL', 'EAUTH', 'ECONNRESET']);

export function sendOnce(target: SendTarget, job: SendJob): Promise<SendResult> {
  return new Promise((resolve) => {
    const conn = new SMTPConnection({
      host: target.address,
      port: target.port,
      secure: target.secure ?? false,
      servername: target.servername,
      name: job.heloName,
      requireTLS: target.requireTls,
      opportunisticTLS: !target.requireTls,
      connectionTimeout: job.timeoutMs,
      greetingTimeout: Math.min(job.timeoutMs, 60_000),
      socketTimeout: job.timeoutMs,
      logger: false,
      allowInternalNetworkInterfaces: true,
      ...(target.localAddress ? { localAddress: target.localAddress } : {}),
      tls: {
        servername: target.servername,
        rejectUnauthorized: target.verifyCert,
        minVersion: 'TLSv1.2',
        ...(target.ca ? { ca: target.ca } : {}),
      },
    });
    let settled = false;
    let stage: 'connect' | 'auth' | 'send' = 'connect';
    const finish = (r: SendResult) => {
      if (settled) return;
      settled = true;
      try {
        conn.quit();
      } catch {
        /* already closed */
      }
      resolve(r);
    };
    conn.on('error', (err: MailerError) => {
      if (stage === 'connect' && target.localAddress && isSourceBindError(err)) finish({ kind: 'source-unavailable', error: describe(err) });
      else if (stage !== 'send') finish({ kind: 'unreachable', error: describe(err) });
      else finish(allSame(job.rcpts, err));
    });
    conn.connect(() => {
      const send = () => {
        stage = 'send';
        conn.send({ from: job.mailFrom || false, to: job.rcpts, size: job.raw.length }, job.raw, (err, info) => {
          if (err) return finish(fromError(job.rcpts, err as MailerError));
          const outcomes: RcptOutcome[] = [];
          for (const r of info.accepted) outcomes.push({ rcpt: r, code: replyCode(info.response) ?? 250, response: info.response });
          for (const e of (info.rejectedErrors ?? []) as MailerError[]) outcomes.push({ rcpt: e.recipient ?? '', code: e.responseCode ?? null, response: e.response ?? e.message });
          finish({ kind: 'done', outcomes });
        });
      };
      if (!target.auth) return send();
      stage = 'auth';
      conn.login({ user: target.auth.user, pass: target.auth.pass }, (err) => {
        if (err) return finish({ kind: 'unreachable', error: describe(err as MailerError) });
        send();
      });
    });
  });
}

function replyCode(s: string | undefined): number | null {
  const m = /^(\d{3})/.exec(s ?? '');
  return m ? Number(m[1]) : null;
}

function describe(err: MailerError): string {
  return err.response ?? `${err.code ?? 'ERROR'} ${err.message}`;
}

function allSame(rcpts: string[], err: MailerError): SendResult {
  return { kind: 'done', outcomes: rcpts.map((rcpt) => ({ rcpt, code: err.responseCode ?? null, response: describe(err) })) };
}

function fromError(rcpts: string[], err: MailerError): SendResult {
  if (err.code && CONNECT_PHASE.has(err.code) && !err.responseCode) return { kind: 'unreachable', error: describe(err) };
  // Every recipient refused: each has its own reply.
  if (err.rejectedErrors && err.rejectedErrors.length > 0) {
    const byRcpt = new Map(err.rejectedErrors.map((e) => [e.recipient ?? '', e]));
    return {
      kind: 'done',
      outcomes: rcpts.map((rcpt) => {
        const e = byRcpt.get(rcpt) ?? err;
        return { rcpt, code: e.responseCode ?? null, response: describe(e) };
      }),
    };
  }
  // MAIL FROM or DATA refused: the reply applies to all.
  return allSame(rcpts, err);
}
