/**
 * @module node/config
 * Haven's typed configuration: one schema (defaults, types, help), loaded
 * from defaults < file < environment < overrides into a frozen `Config`.
 */
import { loadConfig, type ConfigInput } from './load.js';
import type { Config } from './schema.js';

export { loadConfig, CONFIG_ENV, type ConfigInput, type LoadConfigOptions } from './load.js';
export { ConfigError, type ConfigProblem } from './errors.js';
export { configSchema, envName, OPTION_LIST, OPTIONS, type Config, type OptionInfo } from './schema.js';
export { renderConfigDocs, renderExampleYaml } from './docs.js';
export { parseReplicaUrl, parseSmarthostUrl, type ReplicaTarget, type SmarthostTarget } from './urls.js';
export { parseDuration, parseSize } from './options.js';

/**
 * A config for tests and benchmarks: defaults, every port 0 (the OS picks),
 * the given data directory, the process environment ignored, then `overrides`
 * (file-shaped, merged section by section).
 */
export function testConfig(dataDir: string, overrides: ConfigInput = {}): Config {
  const ports = Object.fromEntries(Object.keys(loadConfig({ env: {} }).ports).map((k) => [k, 0]));
  const merged: Record<string, unknown> = { dataDir, ports };
  for (const [k, v] of Object.entries(overrides)) {
    const base = merged[k];
    merged[k] = isPlain(base) && isPlain(v) ? { ...base, ...v } : v;
  }
  return loadConfig({ env: {}, overrides: merged });
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
