/**
 * @module node/cli/commands
 * Every `haven` command, in the order `haven help` lists them. One file per
 * group; a new group is one import and one spread here.
 */
import type { Command } from '../types.js';
import { accountCommands } from './account.js';
import { aliasCommands } from './alias.js';
import { appPasswordCommands } from './app-password.js';
import { domainCommands } from './domain.js';
import { opsCommands } from './ops.js';
import { replicationCommands } from './replication.js';
import { setupCommands } from './setup.js';
import { sieveCommands } from './sieve.js';
import { startCommands } from './start.js';
import { upgradeCommands } from './upgrade.js';
import { failoverCommands } from './failover.js';
import { statusCommands } from './status.js';
import { transferCommands } from './transfer.js';

export const COMMANDS: readonly Command[] = [
  ...setupCommands,
  ...startCommands,
  ...statusCommands,
  ...domainCommands,
  ...accountCommands,
  ...aliasCommands,
  ...appPasswordCommands,
  ...sieveCommands,
  ...transferCommands,
  ...replicationCommands,
  ...failoverCommands,
  ...upgradeCommands,
  ...opsCommands,
];
