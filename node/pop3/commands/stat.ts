/**
 * @module node/pop3/commands/stat
 * RFC 1939 §5 STAT: "+OK nn mm", messages and octets not marked deleted.
 */
import { ok } from '../respond.js';
import { transaction, type CommandSpec } from '../state.js';

export const stat: CommandSpec<'STAT'> = {
  states: ['transaction'],
  async handle(ctx) {
    const s = transaction(ctx);
    let count = 0;
    let octets = 0;
    s.drop.entries.forEach((e, i) => {
      if (s.deleted.has(i + 1)) return;
      count++;
      octets += e.size;
    });
    await ctx.send(ok(`${count} ${octets}`));
  },
};
