/**
 * @module node/upgrade/running
 * Is a node running on this data directory? Its control socket says so when
 * replication is on; its listeners say so either way (a node holds its SMTP
 * and HTTPS ports while it runs). Upgrades and restores into the live
 * directory refuse to start while either answers.
 */
import { connect } from 'node:net';
import type { Config } from '../config/index.js';
import { askReplication as askNode } from '../admin/control.js';

/** Resolves with what answered ("control socket", "port 25"), or null when nothing did. */
export async function nodeRunning(config: Config): Promise<string | null> {
  if (await askNode(config.dataDir, { cmd: 'status' }, 5_000)) return 'its control socket';
  const host = config.listenAddress === '0.0.0.0' || config.listenAddress === '::' ? '127.0.0.1' : config.listenAddress;
  for (const port of [config.ports.smtp, config.ports.https]) {
    // Port 0 means "any free port" (tests): nothing to probe.
    if (port > 0 && (await answers(host, port))) return `port ${port}`;
  }
  return null;
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 1_000 });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
  });
}
