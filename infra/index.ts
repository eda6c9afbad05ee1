/**
 * @module infra
 * The Pulumi program (Pulumi.yaml `main`). Reads the stack's config and
 * provisions one Haven deployment; the named exports are the stack outputs.
 *
 * Loading: package.json has "type": "module", so Pulumi imports this file
 * with `import()`. Pulumi's own TypeScript support goes through ts-node,
 * which cannot use the project's TypeScript 7, so Pulumi.yaml turns it off
 * (`typescript: false`) and has Node load tsx (`nodeargs: --import tsx`),
 * the same loader `npm start` uses. `npx pulumi up` then works from a plain
 * `npm ci` checkout with no build step.
 */
import { readStackConfig } from './config.js';
import { createHaven } from './stack.js';

const out = createHaven(readStackConfig());

export const ipv4 = out.ipv4;
export const ipv6 = out.ipv6;
export const mailHost = out.mailHost;
export const adminUrl = out.adminUrl;
export const dnsRecords = out.dnsRecords;
export const mtaStsPolicy = out.mtaStsPolicy;
export const replicaUrl = out.replicaUrl;
export const ssh = out.ssh;
export const logs = out.logs;
export const replicaAccessKeyId = out.replicaAccessKeyId;
export const replicaSecretAccessKey = out.replicaSecretAccessKey;
export const standbySsh = out.standbySsh;
