/**
 * @module node/sieve
 * Sieve (RFC 5228) and its extensions, as a pure library: compile a script
 * (errors with line and column), run it on a message with an environment,
 * get actions back. Delivery (node/smtp) carries the actions out; scripts are
 * stored by node/store and managed over ManageSieve (node/managesieve).
 */
export { SieveError, SieveRuntimeError, SieveSyntaxError, type Position } from './errors.js';
export { compile, EXTENSIONS, isScriptName, type Program } from './validate.js';
export { runScript, LIMITS, type Action, type SieveEnv, type SieveMessage, type SieveResult } from './interpret.js';
export { sieveMessage } from './message.js';
export { responseKey, vacationRefusal, vacationReply, type VacationContext } from './vacation.js';
export { VACATION_SCRIPT, vacationScript, vacationSettings, type VacationSettings } from './vacation-form.js';
