/**
 * Command delivery and waiting, on top of the `commands` table (see schema/src/commands.ts
 * for the seam). On the replica holding the socket a command is written as `sent` and sent
 * at once; elsewhere it is written `queued` and the NOTIFY wakes the holder. Waiters are
 * settled in-process when the answer arrives here, or by the results NOTIFY otherwise.
 */
import { randomUUID } from 'node:crypto';
import {
  type Clock,
  type Command,
  type CommandRequest,
  type Db,
  FINAL_COMMAND_STATUSES,
  ToolbeltError,
  claimCommands,
  enqueueCommand,
  expireCommands,
  getCommand,
  pruneFinishedCommands,
  recordCommandResult,
  commandDedupeKey,
  validateCommand,
} from '@toolbelt/schema';
import { AGENT_ERROR_CODES, type CommandMessage, type CommandType, commandMessageSchema } from '@toolbelt/schema/protocol';
import type { Logger } from '../logger.ts';
import type { AgentConnection } from './connection.ts';
import type { AgentEvent } from './options.ts';

/** What to send: a protocol command without its id (the store assigns it). */
export type CommandInput = {
  commandType: CommandType;
  toolInstanceId?: string;
  generation?: number;
  payload?: Record<string, unknown>;
};

type Waiter = (command: Command) => void;

export interface CommandRouterDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  replicaId: string;
  defaultTimeoutMs: number;
  /** The open, greeted connection of an environment on this replica, if any. */
  connectionOf: (environmentId: string) => AgentConnection | undefined;
  emit: (event: AgentEvent) => void;
}

/** Builds the wire message of a stored command, or says why it cannot be sent. */
export function toWireCommand(command: Command): { ok: true; message: CommandMessage } | { ok: false; reason: string } {
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
  readonly #waiters = new Map<string, Set<Waiter>>();
  /** Open commands sent from here, by dedupe key: the same command again shares the result. */
  readonly #sentEarly = new Map<string, Promise<Command>>();
  readonly #stopped = new AbortController();
  readonly stats = { sent: 0, settled: 0, timedOut: 0 };

  constructor(private readonly deps: CommandRouterDeps) {}

  /**
   * Sends a command to an environment's agent — wherever its socket is — and resolves with
   * the command once it is final: `done`, `failed` or `timed_out`. A command identical to
   * an open one (same type, tool instance and generation) is not sent twice: this waits on
   * the open one. Throws HUB_COMMAND_INVALID for a command the protocol refuses and
   * HUB_UNKNOWN_ENVIRONMENT for an environment that does not exist.
   */
  async send(environmentId: string, input: CommandInput, options: { timeoutMs?: number } = {}): Promise<Command> {
    const request: CommandRequest = { id: randomUUID(), environmentId, ...input, timeoutMs: options.timeoutMs ?? this.deps.defaultTimeoutMs };
    assertValid(request);
    const key = `${environmentId}|${commandDedupeKey(request) ?? request.id}`;
    // The same command, sent from here and still open: wait for that one.
    const same = this.#sentEarly.get(key);
    if (same) return same;
    const now = new Date(this.deps.clock.now());
    const connection = this.deps.connectionOf(environmentId);
    if (!connection) return this.#wrote(enqueueCommand(this.deps.db, request, { now }), request, now);
    // The socket is here: the row is written as `sent` while the command goes out.
    const write = enqueueCommand(this.deps.db, request, { now, sentBy: this.deps.replicaId });
    this.#sendEarly(connection, request, write);
    const result = this.#wrote(write, request, now);
    this.#sentEarly.set(key, result);
    void result.catch(() => {}).finally(() => this.#sentEarly.delete(key));
    return result;
  }

  /**
   * Waits for the written command to become final. The waiter is registered under the id
   * before the write returns: an answer (in-process or by NOTIFY) can never come first.
   */
  async #wrote(write: ReturnType<typeof enqueueCommand>, request: CommandRequest, now: Date): Promise<Command> {
    const ours = this.#wait(request.id!, now.getTime() + request.timeoutMs!);
    let command: Command;
    try {
      ({ command } = await written(write, request.environmentId));
    } catch (error) {
      ours.cancel();
      throw error;
    }
    let settled = ours.settled;
    if (command.id !== request.id) {
      // An identical command was open already: wait for that one instead.
      ours.cancel();
      settled = this.#wait(command.id, command.deadline.getTime()).settled;
    }
    if (FINAL_COMMAND_STATUSES.includes(command.status)) this.#settle(command);
    return settled;
  }

  /**
   * The socket is here: send while the row is being written, and hold the connection's
   * answers until the write is done, so an answer never arrives before its row. (If the row
   * turns out to duplicate an open command written elsewhere — a race with another replica
   * or a reconciler — the agent got one extra copy, which it treats as done by generation;
   * its answer to the copy finds no row and changes nothing.)
   */
  #sendEarly(connection: AgentConnection, request: CommandRequest, write: Promise<unknown>): void {
    connection.after(write);
    const wire = toWireCommand({
      id: request.id!,
      command_type: request.commandType,
      tool_instance_id: request.toolInstanceId ?? null,
      generation: request.generation ?? null,
      payload: request.payload ?? {},
    } as Command);
    if (wire.ok && connection.send(wire.message)) this.stats.sent += 1;
  }

  /** Sends an environment's queued commands (and, on a new connection, the in-flight ones). */
  async deliver(connection: AgentConnection, includeInFlight: boolean): Promise<void> {
    const claimed = await claimCommands(this.deps.db, connection.environmentId, {
      replicaId: this.deps.replicaId,
      includeInFlight,
      now: new Date(this.deps.clock.now()),
    });
    for (const command of claimed) this.#transmit(connection, command);
  }

  /** Resolves the waiters of a command that became final. */
  settle(command: Command): void {
    if (FINAL_COMMAND_STATUSES.includes(command.status)) this.#settle(command);
  }

  /** A final answer was recorded somewhere (NOTIFY): settle local waiters from the row. */
  async onResultNotified(commandId: string): Promise<void> {
    if (!this.#waiters.has(commandId)) return;
    const command = await getCommand(this.deps.db, commandId);
    if (command) this.settle(command);
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

  /** Fails every waiter: the hub is stopping. */
  stop(): void {
    this.#stopped.abort();
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
    this.settle(outcome.value);
    this.deps.emit({ kind: 'command_result', environmentId: command.agent_droplet_id, commandId: command.id, toolInstanceId: command.tool_instance_id ?? undefined });
  }

  /** Registers a waiter on a command id (with its timeout); `cancel` drops it unanswered. */
  #wait(commandId: string, deadline: number): { settled: Promise<Command>; cancel: () => void } {
    let cancel = () => {};
    const settled = new Promise<Command>((resolve, reject) => {
      if (this.#stopped.signal.aborted) return reject(stoppedError());
      const timer = new AbortController();
      const onStop = () => {
        done();
        reject(stoppedError());
      };
      const waiter: Waiter = (command) => {
        done();
        resolve(command);
      };
      const done = () => {
        timer.abort();
        this.#stopped.signal.removeEventListener('abort', onStop);
        const set = this.#waiters.get(commandId);
        set?.delete(waiter);
        if (set?.size === 0) this.#waiters.delete(commandId);
      };
      cancel = done;
      this.#stopped.signal.addEventListener('abort', onStop, { once: true });
      const set = this.#waiters.get(commandId) ?? new Set();
      set.add(waiter);
      this.#waiters.set(commandId, set);
      void this.#timeOutAt(commandId, deadline, timer.signal);
    });
    return { settled, cancel };
  }

  async #timeOutAt(commandId: string, deadline: number, signal: AbortSignal): Promise<void> {
    try {
      await this.deps.clock.sleep(Math.max(0, deadline - this.deps.clock.now()), signal);
    } catch {
      return;
    }
    try {
      const [expired] = await expireCommands(this.deps.db, { commandId, now: new Date(this.deps.clock.now()) });
      if (expired) this.#timedOut(expired);
      else await this.onResultNotified(commandId);
    } catch (error) {
      this.deps.logger.warn({ err: error, commandId }, 'timing out a command failed; the sweep will');
    }
  }

  async #expire(): Promise<void> {
    const expired = await expireCommands(this.deps.db, { now: new Date(this.deps.clock.now()) });
    for (const command of expired) this.#timedOut(command);
  }

  #timedOut(command: Command): void {
    this.stats.timedOut += 1;
    this.deps.emit({
      kind: 'command_timed_out',
      environmentId: command.agent_droplet_id,
      toolInstanceId: command.tool_instance_id ?? undefined,
      commandId: command.id,
    });
    this.#settle(command);
  }

  #settle(command: Command): void {
    const set = this.#waiters.get(command.id);
    if (!set) return;
    this.stats.settled += 1;
    for (const waiter of [...set]) waiter(command);
  }
}

function assertValid(request: CommandRequest): void {
  const invalid = validateCommand(request);
  if (!invalid) return;
  throw new ToolbeltError('HUB_COMMAND_INVALID', `the ${request.commandType} command is not valid: ${invalid.reason}`, {
    hint: 'see the command table in docs/agent.md',
  });
}

/** The written row, or HUB_UNKNOWN_ENVIRONMENT. */
async function written(write: ReturnType<typeof enqueueCommand>, environmentId: string): Promise<{ command: Command; created: boolean }> {
  const enqueued = await write;
  if (enqueued.kind === 'ok') return enqueued.value;
  throw new ToolbeltError('HUB_UNKNOWN_ENVIRONMENT', `environment ${environmentId} does not exist`, {
    hint: 'commands go to existing tool environments; check the id',
  });
}

function stoppedError(): ToolbeltError {
  return new ToolbeltError('HUB_STOPPED', 'the agent hub stopped before the command finished', {
    hint: 'the command stays in the store; look it up by id or issue it again',
  });
}
