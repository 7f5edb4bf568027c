/**
 * Command handling: every command is answered (`accepted`, maybe `progress`, then `done` or
 * `failed` with a stable code), and a command id seen before is not run again — its result
 * is sent again, marked `duplicate`. Tool commands are also idempotent by generation (see
 * tools.ts), so a command re-sent after an agent restart is harmless too.
 */
import { coerceError, ToolbeltError } from '@toolbelt/schema/errors';
import {
  AGENT_ERROR_CODES,
  type AgentErrorCode,
  type CommandMessage,
  type CommandOf,
  MAX_LOG_LINES_PER_MESSAGE,
  type OutgoingAgentMessage,
} from '@toolbelt/schema/protocol';
import type { Logger } from './log.ts';
import type { CommandOutcome, ToolManager } from './tool-manager.ts';

type ResultMessage = Extract<OutgoingAgentMessage, { type: 'command_result' }>;
type ResultBase = Pick<ResultMessage, 'type' | 'commandId' | 'toolInstanceId' | 'generation'>;

/** Bytes of log lines per `logs` frame: well under MAX_FRAME_BYTES even after JSON escaping. */
const LOG_CHUNK_BYTES = 256 * 1024;

export interface CommandHandlerOptions {
  manager: ToolManager;
  send: (message: OutgoingAgentMessage) => boolean;
  log: Logger;
  /** Applies `update_agent`; undefined when self-update is not configured. */
  update?: (command: CommandOf<'update_agent'>, progress: (message: string) => void) => Promise<CommandOutcome>;
  /** How many finished command ids are remembered for de-duplication. */
  remember?: number;
  /** Masks secret values in what is reported (progress, outcomes, failures); default: as is. */
  mask?: (text: string) => string;
}

const KNOWN_CODES = new Set<string>(Object.values(AGENT_ERROR_CODES));

/** The protocol error code for anything thrown while applying a command. */
export function errorCodeOf(error: unknown): AgentErrorCode {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && KNOWN_CODES.has(code) ? (code as AgentErrorCode) : AGENT_ERROR_CODES.internal;
}

export class CommandHandler {
  readonly #o: CommandHandlerOptions;
  readonly #results = new Map<string, Promise<ResultMessage>>();
  #closed = false;

  constructor(options: CommandHandlerOptions) {
    this.#o = options;
  }

  /** Stops taking commands (shutdown): new ones fail with AGENT_ERR_SHUTTING_DOWN. */
  close(): void {
    this.#closed = true;
  }

  /** Handles one command message; answers over `send`. Never throws. */
  handle(command: CommandMessage): void {
    const base = this.#base(command);
    const seen = this.#results.get(command.commandId);
    if (seen) {
      this.#o.send({ ...base, status: 'accepted', duplicate: true });
      void seen.then((result) => this.#o.send({ ...result, duplicate: true }));
      return;
    }
    if (this.#closed) {
      this.#o.send({ ...base, status: 'failed', error: { code: AGENT_ERROR_CODES.shuttingDown, reason: 'the agent is shutting down' } });
      return;
    }
    this.#o.send({ ...base, status: 'accepted' });
    const result = this.#run(command, base);
    this.#results.set(command.commandId, result);
    this.#forgetOld();
    void result.then((message) => this.#o.send(message));
  }

  #base(command: CommandMessage): ResultBase {
    return {
      type: 'command_result' as const,
      commandId: command.commandId,
      ...(command.commandType === 'update_agent'
        ? {}
        : { toolInstanceId: command.toolInstanceId, generation: command.generation }),
    };
  }

  async #run(command: CommandMessage, base: ResultBase): Promise<ResultMessage> {
    const mask = this.#o.mask ?? ((text: string) => text);
    const progress = (message: string) => this.#o.send({ ...base, status: 'progress', message: mask(message).slice(0, 4096) });
    try {
      const outcome = await this.#apply(command, progress);
      if (outcome.logs && command.commandType !== 'update_agent') this.#sendLogs(command.toolInstanceId, command.commandId, outcome.logs);
      return {
        ...base,
        status: 'done',
        message: mask(outcome.message),
        ...(outcome.duplicate ? { duplicate: true } : {}),
        ...(outcome.tool ? { tool: outcome.tool } : {}),
      };
    } catch (thrown) {
      const error = coerceError(thrown);
      // A failure may quote the tool's output (npm's, the runtime's): masked before it is logged or sent.
      const reason = mask(error instanceof ToolbeltError ? error.describe() : error.message);
      const cause = error.cause instanceof Error ? `: ${mask(error.cause.message)}` : '';
      this.#o.log.warn('command failed', { commandId: command.commandId, commandType: command.commandType, reason });
      return { ...base, status: 'failed', error: { code: errorCodeOf(error), reason: `${reason}${cause}`.slice(0, 4096) } };
    }
  }

  #apply(command: CommandMessage, progress: (message: string) => void): Promise<CommandOutcome> {
    if (command.commandType !== 'update_agent') return this.#o.manager.apply(command, progress);
    if (!this.#o.update) {
      throw new ToolbeltError(AGENT_ERROR_CODES.updateFailed, 'self-update is not available on this agent');
    }
    return this.#o.update(command, progress);
  }

  #sendLogs(toolInstanceId: string, commandId: string, logs: NonNullable<CommandOutcome['logs']>): void {
    const send = (lines: typeof logs.lines) =>
      this.#o.send({ type: 'logs', toolInstanceId, commandId, lines, truncated: logs.truncated });
    let batch: typeof logs.lines = [];
    let bytes = 0;
    for (const line of logs.lines) {
      const size = Buffer.byteLength(JSON.stringify(line));
      if (batch.length > 0 && (bytes + size > LOG_CHUNK_BYTES || batch.length >= MAX_LOG_LINES_PER_MESSAGE)) {
        send(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(line);
      bytes += size;
    }
    if (batch.length > 0 || logs.lines.length === 0) send(batch);
  }

  #forgetOld(): void {
    const limit = this.#o.remember ?? 1000;
    for (const id of this.#results.keys()) {
      if (this.#results.size <= limit) break;
      this.#results.delete(id);
    }
  }
}
