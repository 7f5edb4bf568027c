/**
 * Command delivery on top of the `commands` table (see schema/src/commands.ts for the seam):
 * whoever decides writes a row with `enqueueCommand`, whose NOTIFY wakes the replica holding
 * the agent's socket; that replica claims the queued rows and sends them. The agent's answer
 * updates the row (handlers.ts); open commands past their deadline are timed out here.
 */
import { type Clock, type Command, type Db, claimCommands, expireCommands, pruneFinishedCommands, recordCommandResult } from '@toolbelt/schema';
import { AGENT_ERROR_CODES, type CommandMessage, commandMessageSchema } from '@toolbelt/schema/protocol';
import type { Logger } from '../logger.ts';
import type { AgentConnection } from './connection.ts';
import type { AgentEvent } from './options.ts';

export interface CommandRouterDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  replicaId: string;
  emit: (event: AgentEvent) => void;
}

/** Builds the wire message of a stored command, or says why it cannot be sent. */
function toWireCommand(command: Command): { ok: true; message: CommandMessage } | { ok: false; reason: string } {
  const parsed = commandMessageSchema.safeParse({
    type: 'command',
    v: 1,
    commandId: command.id,
    commandType: command.command_type,
    ...(command.tool_instance_id === null ? {} : { toolInstanceId: command.tool_instance_id }),
    ...(command.generation === null ? {} : { generation: command.generation }),
    payload: command.payload,
  });
  if (parsed.success) return { ok: true, message: parsed.data };
  return { ok: false, reason: parsed.error.issues.map((i) => `${i.path.join('.') || '(command)'}: ${i.message}`).join('; ') };
}

export class CommandRouter {
  readonly stats = { sent: 0, timedOut: 0 };

  constructor(private readonly deps: CommandRouterDeps) {}

  /**
   * Sends an environment's queued commands and, on a new connection, the ones in flight
   * before it opened (a NOTIFY may have sent a newer one on it already: that one is not resent).
   */
  async deliver(connection: AgentConnection, includeInFlight: boolean): Promise<void> {
    const claimed = await claimCommands(this.deps.db, connection.environmentId, {
      replicaId: this.deps.replicaId,
      ...(includeInFlight ? { inFlightSentBefore: new Date(connection.connectedAt) } : {}),
      now: new Date(this.deps.clock.now()),
    });
    for (const command of claimed) this.#transmit(connection, command);
  }

  /** Times out due commands every `intervalMs` and prunes old finished ones hourly. */
  async runSweeper(signal: AbortSignal, intervalMs: number, retentionMs: number): Promise<void> {
    let lastPrune = 0;
    while (!signal.aborted) {
      try {
        await this.deps.clock.sleep(intervalMs, signal);
        await this.#expire();
        if (this.deps.clock.now() - lastPrune >= 60 * 60 * 1000) {
          lastPrune = this.deps.clock.now();
          await pruneFinishedCommands(this.deps.db, new Date(lastPrune - retentionMs));
        }
      } catch (error) {
        if (signal.aborted) break;
        this.deps.logger.warn({ err: error }, 'command sweep failed; retrying');
      }
    }
  }

  #transmit(connection: AgentConnection, command: Command): void {
    const wire = toWireCommand(command);
    if (!wire.ok) {
      void this.#failUnsendable(command, wire.reason);
      return;
    }
    try {
      if (connection.send(wire.message)) this.stats.sent += 1;
    } catch (error) {
      void this.#failUnsendable(command, (error as Error).message);
    }
  }

  async #failUnsendable(command: Command, reason: string): Promise<void> {
    this.deps.logger.warn({ commandId: command.id, environmentId: command.agent_droplet_id, reason }, 'command cannot be sent');
    const outcome = await recordCommandResult(this.deps.db, {
      environmentId: command.agent_droplet_id,
      commandId: command.id,
      status: 'failed',
      errorCode: AGENT_ERROR_CODES.invalidMessage,
      result: { error: { code: AGENT_ERROR_CODES.invalidMessage, reason: `not sent: ${reason}` } },
      now: new Date(this.deps.clock.now()),
    }).catch(() => undefined);
    if (outcome?.kind !== 'ok') return;
    this.deps.emit({ kind: 'command_result', environmentId: command.agent_droplet_id, commandId: command.id, toolInstanceId: command.tool_instance_id ?? undefined });
  }

  async #expire(): Promise<void> {
    const expired = await expireCommands(this.deps.db, { now: new Date(this.deps.clock.now()) });
    for (const command of expired) {
      this.stats.timedOut += 1;
      this.deps.emit({
        kind: 'command_timed_out',
        environmentId: command.agent_droplet_id,
        toolInstanceId: command.tool_instance_id ?? undefined,
        commandId: command.id,
      });
    }
  }
}
