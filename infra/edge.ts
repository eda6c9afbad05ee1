/**
 * @module infra/edge
 * The edge Worker: `edge/worker.ts` bundled by edge/build.ts for workerd, its
 * secrets and settings as bindings, a KV namespace, the admin custom domain
 * and the cron trigger that probes the node from outside.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as cloudflare from '@pulumi/cloudflare';
import * as pulumi from '@pulumi/pulumi';
import { buildWorker, REPO_ROOT } from '../edge/build.js';

/** The repository root: esbuild resolves the entry, node_modules and tsconfig.json from here. */
export { REPO_ROOT };
export const DEFAULT_EDGE_ENTRY = 'edge/worker.ts';
/** Workers runtime semantics the bundle is built and deployed for. */
export const COMPATIBILITY_DATE = '2025-09-01';
/** Every minute; edge/probe.ts writes KV only on a change and every fifth minute (the free plan allows 1,000 KV writes a day). */
export const PROBE_CRON = '* * * * *';

export function edgeEntryExists(entry: string = DEFAULT_EDGE_ENTRY): boolean {
  return existsSync(resolve(REPO_ROOT, entry));
}

/** Bundles the Worker into one ES module with the edge's own builder (edge/build.ts), so there is one bundler. */
export async function buildEdgeWorker(entry: string = DEFAULT_EDGE_ENTRY): Promise<string> {
  const path = resolve(REPO_ROOT, entry);
  if (!existsSync(path)) throw new Error(`the edge Worker entry ${path} does not exist: build the edge app or set haven:edgeEntry`);
  return buildWorker(path);
}

export interface EdgeWorkerArgs {
  accountId: string;
  scriptName: string;
  /** The admin UI's hostname (a Worker custom domain; Cloudflare makes its DNS record and certificate). */
  adminHost: string;
  adminZoneId: pulumi.Input<string>;
  /** The bundled Worker (from buildEdgeWorker). */
  content: pulumi.Input<string>;
  nodeUrl: string;
  mailHost: string;
  domains: string[];
  /** Whether the node offers POP3 (the edge's DNS check and autoconfig follow it). */
  pop3: boolean;
  edgeSecret: pulumi.Input<string>;
  adminPasswordHash: pulumi.Input<string>;
  /** Undefined when no webhook is configured. */
  alertWebhook?: pulumi.Input<string>;
  /** Cloudflare Access in front of the admin UI (edge/auth/access.ts); undefined for the password login only. */
  access?: { aud: string; team: string };
  /** With a standby (haven:standby): the URL the edge promotes it at, and after how long. */
  failover?: { standbyUrl: string; afterSeconds: number };
}

/** One text binding of the Worker (edge/worker.ts reads them from its env). */
export interface TextBinding<T> {
  name: string;
  text: T;
  secret: boolean;
}

/**
 * The Worker's text bindings, as a pure function so a test can hand the
 * same names and values to the built bundle. The names are the ones
 * edge/worker.ts's WorkerEnv reads.
 */
export function edgeTextBindings<T>(
  args: Pick<EdgeWorkerArgs, 'nodeUrl' | 'mailHost' | 'domains' | 'pop3' | 'access' | 'failover'> & { edgeSecret: T; adminPasswordHash: T; alertWebhook?: T },
): TextBinding<T | string>[] {
  return [
    { name: 'NODE_URL', text: args.nodeUrl, secret: false },
    { name: 'MAIL_HOST', text: args.mailHost, secret: false },
    { name: 'MAIL_DOMAINS', text: args.domains.join(','), secret: false },
    { name: 'POP3', text: String(args.pop3), secret: false },
    { name: 'EDGE_SHARED_SECRET', text: args.edgeSecret, secret: true },
    { name: 'ADMIN_PASSWORD_HASH', text: args.adminPasswordHash, secret: true },
    // Cloudflare refuses an empty secret: bind the webhook only when one is configured.
    ...(args.alertWebhook ? [{ name: 'ALERT_WEBHOOK', text: args.alertWebhook, secret: true }] : []),
    // An audience tag and team name identify the Access application; they are not secret.
    ...(args.access ? [{ name: 'ACCESS_AUD', text: args.access.aud, secret: false }, { name: 'ACCESS_TEAM', text: args.access.team, secret: false }] : []),
    // edge/failover.ts: promote the standby once every probe of NODE_URL failed for FAILOVER_AFTER_SECONDS. Unbound: no standby.
    ...(args.failover
      ? [{ name: 'STANDBY_URL', text: args.failover.standbyUrl, secret: false }, { name: 'FAILOVER_AFTER_SECONDS', text: String(args.failover.afterSeconds), secret: false }]
      : []),
    // SESSION_SECRET stays unbound: the edge derives its session key from the shared secret (edge/edge.ts).
  ];
}

export class EdgeWorker extends pulumi.ComponentResource {
  readonly scriptName: pulumi.Output<string>;
  readonly adminUrl: pulumi.Output<string>;

  constructor(name: string, args: EdgeWorkerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('haven:infra:EdgeWorker', name, {}, opts);
    const child = { parent: this };
    const kv = new cloudflare.WorkersKvNamespace(`${name}-kv`, { accountId: args.accountId, title: `${args.scriptName}-state` }, child);
    const bindings = [
      { type: 'kv_namespace', name: 'KV', namespaceId: kv.id },
      ...edgeTextBindings(args).map((b) => ({ type: b.secret ? 'secret_text' : 'plain_text', name: b.name, text: b.secret ? pulumi.secret(b.text) : b.text })),
    ];
    const script = new cloudflare.WorkersScript(
      `${name}-script`,
      {
        accountId: args.accountId,
        scriptName: args.scriptName,
        content: args.content,
        mainModule: 'worker.js',
        compatibilityDate: COMPATIBILITY_DATE,
        bindings,
      },
      child,
    );
    new cloudflare.WorkersCustomDomain(
      `${name}-admin-domain`,
      { accountId: args.accountId, hostname: args.adminHost, service: script.scriptName, zoneId: args.adminZoneId },
      child,
    );
    new cloudflare.WorkersCronTrigger(`${name}-probe`, { accountId: args.accountId, scriptName: script.scriptName, schedules: [{ cron: PROBE_CRON }] }, child);
    this.scriptName = script.scriptName;
    this.adminUrl = pulumi.output(`https://${args.adminHost}/`);
    this.registerOutputs({ scriptName: this.scriptName, adminUrl: this.adminUrl });
  }
}
