/**
 * What message handlers share, and the isolation rule they all apply: an agent acts only
 * for its own droplet. A message about another environment's tool, command or secret is
 * refused (an `error` to the agent) and recorded as a Warning event on the agent's
 * environment; nothing else is written.
 */
import { type Clock, type Db, recordEvent, toolInstanceOwners } from '@toolbelt/schema';
import { AGENT_ERROR_CODES } from '@toolbelt/schema/protocol';
import type { Logger } from '../logger.ts';
import type { CommandRouter } from './commands.ts';
import type { AgentConnection } from './connection.ts';
import type { HeartbeatBuffer } from './heartbeats.ts';
import type { AgentEvent, ResolvedHubOptions } from './options.ts';

export interface HubContext {
  db: Db;
  clock: Clock;
  logger: Logger;
  options: ResolvedHubOptions;
  heartbeats: HeartbeatBuffer;
  commands: CommandRouter;
  emit(event: AgentEvent): void;
  /** Rotates the connection's credential if it is older than the rotation age. */
  rotateIfDue(connection: AgentConnection): Promise<void>;
  readonly stats: { violations: number; inventoriesCoalesced: number; backlogCloses: number };
}

export const now = (ctx: HubContext): Date => new Date(ctx.clock.now());

/**
 * Tool ids the store does not know that one connection may report (orphans on the droplet,
 * which the tools reconciler uninstalls). Beyond it reports of further unknown ids are
 * dropped: invented ids must not turn into unbounded rows, commands and events.
 */
export const MAX_UNKNOWN_TOOLS = 50;
/** Isolation violations recorded as events per connection; later ones are only counted and logged. */
export const MAX_VIOLATION_EVENTS = 10;

/**
 * Refuses a message that reached for another environment, and records why. The event is
 * written before the agent hears the refusal (whoever sees the error finds the event too);
 * the refusal goes out even when the write fails.
 */
export async function refuseForeign(
  ctx: HubContext,
  connection: AgentConnection,
  what: string,
  inReplyTo?: string,
): Promise<void> {
  ctx.stats.violations += 1;
  connection.violations += 1;
  const level = connection.violations <= MAX_VIOLATION_EVENTS ? 'warn' : 'debug';
  ctx.logger[level]({ environmentId: connection.environmentId, what, violations: connection.violations }, 'agent reached for another droplet; refused');
  try {
    // One connection's flood of violations is not a flood of events (nor of database writes).
    if (connection.violations > MAX_VIOLATION_EVENTS) return;
    await recordEvent(ctx.db, {
      type: 'Warning',
      reason: 'AgentIsolationViolation',
      message: `the agent sent ${what}, which belongs to another droplet; refused`,
      object: { kind: 'environment', id: connection.environmentId },
      reporter: 'hub',
      at: now(ctx),
    });
  } finally {
    connection.sendError(AGENT_ERROR_CODES.unauthorized, `refused: ${what} does not belong to this droplet`, inReplyTo);
  }
}

/** Foreign ids remembered per connection, at most (a repeated reach costs no query). */
const MAX_FOREIGN_REMEMBERED = 1000;

function rememberForeign(connection: AgentConnection, id: string): void {
  if (connection.foreignTools.size < MAX_FOREIGN_REMEMBERED) connection.foreignTools.add(id);
}

/**
 * The owner of each id the connection does not know yet, from the store; ids known to be
 * another environment's map to a marker that is never an environment id.
 */
async function ownersOf(ctx: HubContext, connection: AgentConnection, ids: readonly string[]): Promise<Map<string, string>> {
  const lookup = ids.filter((id) => !connection.ownTools.has(id) && !connection.foreignTools.has(id));
  const owners = lookup.length ? await toolInstanceOwners(ctx.db, lookup) : new Map<string, string>();
  for (const id of ids) if (connection.foreignTools.has(id)) owners.set(id, FOREIGN);
  return owners;
}
const FOREIGN = '(another environment)';

/** Whether a tool instance is the connection's own, another's, or unknown to the store. */
export async function ownerOf(ctx: HubContext, connection: AgentConnection, id: string): Promise<'own' | 'foreign' | 'unknown'> {
  if (connection.ownTools.has(id)) return 'own';
  const owner = (await ownersOf(ctx, connection, [id])).get(id);
  if (owner === undefined) return 'unknown';
  if (owner === connection.environmentId) return connection.ownTools.add(id), 'own';
  rememberForeign(connection, id);
  return 'foreign';
}

/**
 * Splits tool instance ids an agent mentions into its own (or unknown to the store — an
 * orphan on the droplet, which the tools reconciler removes), another environment's, and
 * unknown ones past MAX_UNKNOWN_TOOLS (`dropped`: not stored, not acted on).
 */
export async function partitionTools(
  ctx: HubContext,
  connection: AgentConnection,
  ids: readonly string[],
): Promise<{ own: Set<string>; foreign: string[]; dropped: number }> {
  const owners = await ownersOf(ctx, connection, ids);
  const own = new Set<string>();
  const foreign: string[] = [];
  let dropped = 0;
  for (const id of ids) {
    const owner = connection.ownTools.has(id) ? connection.environmentId : owners.get(id);
    if (owner === connection.environmentId) {
      own.add(id);
      connection.ownTools.add(id);
    } else if (owner !== undefined) {
      foreign.push(id);
      rememberForeign(connection, id);
    }
    else if (connection.unknownTools.has(id) || connection.unknownTools.size < MAX_UNKNOWN_TOOLS) {
      own.add(id);
      connection.unknownTools.add(id);
    } else dropped += 1;
  }
  if (dropped > 0) ctx.logger.debug({ environmentId: connection.environmentId, dropped }, `agent reported more than ${MAX_UNKNOWN_TOOLS} unknown tools; dropped`);
  return { own, foreign, dropped };
}
