/**
 * @module node/util/metrics
 * A tiny metrics registry (counters, gauges, histograms with labels) that
 * renders the Prometheus text exposition format 0.0.4 for `/metrics`, and the
 * node's own metrics on one process-wide registry, so a server records an
 * event with one line at the point where it already handles it, without
 * threading a registry through every constructor.
 *
 * Label values are escaped as the format requires (backslash, quote,
 * newline). Keep label sets small and bounded: protocol names, results,
 * delivery kinds, never addresses or IPs.
 */

export type Labels = Record<string, string>;

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function renderLabels(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i])}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

abstract class Metric {
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!NAME_RE.test(name)) throw new Error(`metric name ${name} is not a valid Prometheus name`);
    for (const l of labelNames) if (!LABEL_RE.test(l) || l.startsWith('__')) throw new Error(`label ${l} of ${name} is not a valid Prometheus label name`);
  }

  /**
   * The map key of one label set, checked against the declared names. Called
   * for every event (several per SMTP message), so it allocates nothing for
   * the common sets: no labels, or one (its value is the key); more than one
   * are keyed by their JSON array.
   */
  protected key(labels: Labels | undefined): string {
    const names = this.labelNames;
    let given = 0;
    if (labels) for (const _ in labels) given++;
    if (names.length === 0) {
      if (given > 0) this.badLabels(labels);
      return '';
    }
    if (given !== names.length) this.badLabels(labels);
    if (names.length === 1) {
      const v = labels![names[0]];
      if (v === undefined) this.badLabels(labels);
      return String(v);
    }
    const values: string[] = new Array(names.length);
    for (let i = 0; i < names.length; i++) {
      const v = labels![names[i]];
      if (v === undefined) this.badLabels(labels);
      values[i] = String(v);
    }
    return JSON.stringify(values);
  }

  /** The label values behind a key made by key(), for a new series. */
  protected valuesOf(key: string): string[] {
    return this.labelNames.length === 0 ? [] : this.labelNames.length === 1 ? [key] : (JSON.parse(key) as string[]);
  }

  /** Says what is wrong with a label set key() refused: a declared label missing, or one not declared. */
  private badLabels(labels: Labels | undefined): never {
    for (const n of this.labelNames) if (labels?.[n] === undefined) throw new Error(`metric ${this.name} needs label ${n}`);
    for (const k of Object.keys(labels ?? {})) if (!this.labelNames.includes(k)) throw new Error(`metric ${this.name} has no label ${k}`);
    throw new Error(`metric ${this.name} got labels ${JSON.stringify(labels)}`);
  }

  abstract render(): string[];
}

export class Counter extends Metric {
  readonly type = 'counter';
  private readonly values = new Map<string, { labels: string[]; value: number }>();

  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} can only go up (got ${by})`);
    const key = this.key(labels);
    const e = this.values.get(key);
    if (e) e.value += by;
    else this.values.set(key, { labels: this.valuesOf(key), value: by });
  }

  get(labels?: Labels): number {
    return this.values.get(this.key(labels))?.value ?? 0;
  }

  render(): string[] {
    return [...this.values.values()].map((e) => `${this.name}${renderLabels(this.labelNames, e.labels)} ${formatValue(e.value)}`);
  }
}

export class Gauge extends Metric {
  readonly type = 'gauge';
  private readonly values = new Map<string, { labels: string[]; value: number }>();
  private collector: (() => void) | null = null;

  set(labels: Labels | undefined, value: number): void {
    const key = this.key(labels);
    const e = this.values.get(key);
    if (e) e.value = value;
    else this.values.set(key, { labels: this.valuesOf(key), value });
  }

  inc(labels?: Labels, by = 1): void {
    const key = this.key(labels);
    const e = this.values.get(key);
    if (e) e.value += by;
    else this.values.set(key, { labels: this.valuesOf(key), value: by });
  }

  dec(labels?: Labels, by = 1): void {
    this.inc(labels, -by);
  }

  get(labels?: Labels): number {
    return this.values.get(this.key(labels))?.value ?? 0;
  }

  /**
   * Sets the gauge's values at each scrape (queue depth, replication lag):
   * reading the source when asked is cheaper and never stale. The latest
   * call wins, so a restarted component replaces its predecessor's source.
   */
  collect(fn: ((g: Gauge) => void) | null): void {
    this.collector = fn ? () => fn(this) : null;
  }

  render(): string[] {
    if (this.collector) {
      try {
        this.collector();
      } catch {
        // A failing source leaves the last value; /health reports the failure itself.
      }
    }
    return [...this.values.values()].map((e) => `${this.name}${renderLabels(this.labelNames, e.labels)} ${formatValue(e.value)}`);
  }
}

/** Default buckets in seconds: from a fast command (1 ms) to a slow delivery (30 s). */
export const DEFAULT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Histogram extends Metric {
  readonly type = 'histogram';
  readonly buckets: readonly number[];
  private readonly values = new Map<string, { labels: string[]; counts: number[]; sum: number; count: number }>();

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[] = DEFAULT_BUCKETS) {
    super(name, help, labelNames);
    if (labelNames.includes('le')) throw new Error(`histogram ${name} cannot use the label "le"`);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels | undefined, value: number): void {
    const key = this.key(labels);
    let e = this.values.get(key);
    if (!e) {
      e = { labels: this.valuesOf(key), counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.values.set(key, e);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) e.counts[i]++;
    e.sum += value;
    e.count++;
  }

  /** Starts a timer; the returned function observes the elapsed seconds. */
  startTimer(labels?: Labels): () => number {
    const start = process.hrtime.bigint();
    return () => {
      const s = Number(process.hrtime.bigint() - start) / 1e9;
      this.observe(labels, s);
      return s;
    };
  }

  count(labels?: Labels): number {
    return this.values.get(this.key(labels))?.count ?? 0;
  }

  render(): string[] {
    const out: string[] = [];
    for (const e of this.values.values()) {
      // Bucket counts are cumulative by construction (each observation counts in every bucket it fits).
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${renderLabels(this.labelNames, e.labels, ['le', formatValue(b)])} ${e.counts[i]}`));
      out.push(`${this.name}_bucket${renderLabels(this.labelNames, e.labels, ['le', '+Inf'])} ${e.count}`);
      out.push(`${this.name}_sum${renderLabels(this.labelNames, e.labels)} ${formatValue(e.sum)}`);
      out.push(`${this.name}_count${renderLabels(this.labelNames, e.labels)} ${e.count}`);
    }
    return out;
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric>();

  private add<M extends Metric>(m: M): M {
    const existing = this.metrics.get(m.name);
    if (existing) {
      // Same definition twice (a module loaded twice in tests) shares the one metric.
      if (existing.type === m.type && existing.labelNames.join() === m.labelNames.join()) return existing as M;
      throw new Error(`metric ${m.name} is already registered with another type or labels`);
    }
    this.metrics.set(m.name, m);
    return m;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  /** The exposition text (Content-Type: text/plain; version=0.0.4). */
  render(): string {
    const lines: string[] = [];
    for (const m of this.metrics.values()) {
      lines.push(`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.type}`, ...m.render());
    }
    return lines.join('\n') + '\n';
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The node's registry: every server records into it, `/metrics` renders it. */
export const registry = new Registry();

/** Command results, bounded: 'ok', 'no' (refused: user error), 'bad' (syntax), 'error' (server fault). */
export type CommandResult = 'ok' | 'no' | 'bad' | 'error';

export const metrics = {
  connections: registry.counter('haven_connections_total', 'Connections accepted, per protocol (smtp, submission, imap, pop3, https).', ['protocol']),
  commands: registry.counter('haven_commands_total', 'Protocol commands handled, per protocol and result (ok, no, bad, error).', ['protocol', 'result']),
  commandSeconds: registry.histogram('haven_command_duration_seconds', 'Time to handle one protocol command, per protocol.', ['protocol']),
  deliveries: registry.counter('haven_deliveries_total', 'Inbound deliveries per recipient: local (into an open mailbox), spool (sealed for a locked mailbox), forward (queued to an outside address).', ['kind']),
  outbound: registry.counter('haven_outbound_attempts_total', 'Outbound delivery attempts per recipient, by outcome (sent, deferred, failed).', ['outcome']),
  outboundSourceFallbacks: registry.counter('haven_outbound_source_fallbacks_total', 'Outbound connections that could not bind the configured source address (outbound.sourceAddresses: not on this machine) and left from the default source instead, by family.', ['family']),
  failedLogins: registry.counter('haven_failed_logins_total', 'Failed logins over every protocol (wrong password, unknown account).'),
  lockouts: registry.gauge('haven_auth_lockouts', 'IP addresses and accounts currently locked out after repeated failed logins.'),
  queueDepth: registry.gauge('haven_queue_depth', 'Outbound recipients waiting in the queue.'),
  queueOldest: registry.gauge('haven_queue_oldest_seconds', 'Age of the oldest queued outbound recipient, in seconds.'),
  replicationLag: registry.gauge('haven_replication_lag_seconds', 'Seconds since the oldest commit not yet in the replica (0 when caught up).'),
  replicationHealthy: registry.gauge('haven_replication_healthy', '1 when replication is shipping normally, 0 when it is failing or behind its alarm threshold.'),
  certificateDays: registry.gauge('haven_certificate_days_left', 'Whole days until the served TLS certificate expires.'),
  httpRequests: registry.counter('haven_http_requests_total', 'HTTPS requests per area (dav, api, health, metrics, other) and status class.', ['area', 'status']),
};

/** Maps a protocol's own result word (IMAP OK/NO/BAD, POP3 ok/err, SERVERBUG) to the bounded label. */
export function commandResult(result: string): CommandResult {
  switch (result.toLowerCase()) {
    case 'ok':
      return 'ok';
    case 'no':
    case 'err':
      return 'no';
    case 'bad':
      return 'bad';
    default:
      return 'error';
  }
}

/** One handled command: the counter and the duration histogram, in one line at the dispatch point. */
export function recordCommand(protocol: string, result: string, seconds: number): void {
  metrics.commands.inc({ protocol, result: commandResult(result) });
  metrics.commandSeconds.observe({ protocol }, seconds);
}
