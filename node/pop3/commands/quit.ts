/**
 * @module node/pop3/commands/quit
 * RFC 1939 §6 QUIT. From AUTHORIZATION it just says goodbye. From
 * TRANSACTION it enters UPDATE: every message marked by DELE goes in ONE
 * store transaction (removed, or hidden from POP3 in keep mode), so a crash
 * at any point leaves all or none of them. The +OK is sent only after that
 * commit is durable; on failure the client hears -ERR and mail stays.
 */
import { ok } from '../respond.js';
import type { CommandSpec } from '../state.js';

export const quit: CommandSpec<'QUIT'> = {
  states: ['authorization', 'transaction'],
  async handle(ctx) {
    const s = ctx.state;
    if (s.kind === 'transaction') {
      ctx.state = { kind: 'update' };
      try {
        s.drop.commit([...s.deleted].sort((a, b) => a - b).map((n) => s.drop.entries[n - 1].uid));
      } finally {
        s.drop.release();
      }
      ctx.log.info({ user: s.drop.account, deleted: s.deleted.size }, 'pop3 update');
      await ctx.send(ok(`${s.deleted.size} messages deleted; goodbye`));
    } else {
      await ctx.send(ok('goodbye'));
    }
    ctx.end();
  },
};
