/**
 * @module node/cli/commands
 * Every `haven` command, in the order `haven help` lists them. One file per
 * group; a new group is one import and one spread here.
 */
import type { Command } from '../types.js';
import { domainCommands } from './domain.js';
import { replicationCommands } from './replication.js';

export const COMMANDS: readonly Command[] = [
  ...domainCommands,
  ...replicationCommands,
];
