/**
 * Commands the way production issues them: a row written with `enqueueCommand` (what a
 * reconciler does; the replica holding the agent's socket claims and sends it), and the
 * outcome read from that row once the agent's answer (or the timeout sweep) made it final.
 */
import { type Command, type CommandRequest, type Db, FINAL_COMMAND_STATUSES, enqueueCommand, getCommand } from '@toolbelt/schema';
import { eventually } from './eventually.ts';

/** Writes a command as a reconciler does and returns its row (the open one, for a duplicate); throws when refused. */
export async function enqueued(db: Db, request: CommandRequest): Promise<Command> {
  const written = await enqueueCommand(db, request);
  if (written.kind !== 'ok') throw new Error(`the ${request.commandType} command was not enqueued: ${JSON.stringify(written)}`);
  return written.value.command;
}

/** Waits until a command's row is final (`done`, `failed` or `timed_out`) and returns it. */
export function finalCommand(db: Db, commandId: string, timeoutMs = 60_000): Promise<Command> {
  return eventually(
    async () => {
      const command = await getCommand(db, commandId);
      return command && FINAL_COMMAND_STATUSES.includes(command.status) ? command : undefined;
    },
    async () => `command ${commandId} final; it is ${(await getCommand(db, commandId))?.status ?? 'missing'}`,
    timeoutMs,
  );
}

/** Enqueues a command and waits for its final row. */
export async function commandOutcome(db: Db, request: CommandRequest, timeoutMs?: number): Promise<Command> {
  return finalCommand(db, (await enqueued(db, request)).id, timeoutMs);
}
