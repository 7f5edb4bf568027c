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
  readonly stats: { violations: number };
}

export const now = (ctx: HubContext): Date => new Date(ctx.clock.now());

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
  ctx.logger.warn({ environmentId: connection.environmentId, what }, 'agent reached for another droplet; refused');
  try {
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

/**
 * Splits tool instance ids an agent mentions into its own (or unknown to the store — an
 * orphan on the droplet, which the tools reconciler removes) and another environment's.
 */
export async function partitionTools(
  ctx: HubContext,
  connection: AgentConnection,
  ids: readonly string[],
): Promise<{ own: Set<string>; foreign: string[] }> {
  const unknown = ids.filter((id) => !connection.ownTools.has(id));
  const owners = unknown.length ? await toolInstanceOwners(ctx.db, unknown) : new Map<string, string>();
  const own = new Set<string>();
  const foreign: string[] = [];
  for (const id of ids) {
    const owner = connection.ownTools.has(id) ? connection.environmentId : owners.get(id);
    if (owner === undefined || owner === connection.environmentId) {
      own.add(id);
      if (owner !== undefined) connection.ownTools.add(id);
    } else foreign.push(id);
  }
  return { own, foreign };
}
