/**
 * The gateway's audit and metrics. Every call is measured (duration, bytes in and out,
 * outcome) and recorded as a `tool_calls` row — never its arguments or result. Rows are
 * buffered and written many per statement (a busy gateway makes thousands of calls a
 * second); failures become Warning events on the agent (at most one per agent a minute).
 */
import { type Clock, type Db, insertToolCalls, pruneToolCalls, recordEvent, type ToolCallInput, type ToolCallOutcome } from '@toolbelt/schema';
import { GATEWAY_ERROR_CODES, type McpReplyBody } from '@toolbelt/schema/protocol';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../logger.ts';
import { GatewayError } from './toolset.ts';

const MAX_BUFFERED = 10_000;
const EVENT_EVERY_MS = 60_000;

/** The outcome of a JSON-RPC error code. */
export function outcomeOf(code: number): ToolCallOutcome {
  if (code === GATEWAY_ERROR_CODES.timeout) return 'timeout';
  if (code === GATEWAY_ERROR_CODES.interrupted) return 'cancelled';
  if (code === GATEWAY_ERROR_CODES.agentUnavailable || code === GATEWAY_ERROR_CODES.toolUnavailable) return 'unavailable';
  if (code === GATEWAY_ERROR_CODES.forbidden || code === GATEWAY_ERROR_CODES.overloaded || code === -32602) return 'refused';
  return 'error';
}

export class AuditLog {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #retentionMs: number;
  #buffer: ToolCallInput[] = [];
  readonly #lastEvent = new Map<string, number>();
  readonly #calls: Counter<'outcome'>;
  readonly #latency: Histogram<'outcome'>;
  readonly inFlight: Gauge;

  constructor(options: { db: Db; clock: Clock; logger: Logger; retentionMs: number; registry?: Registry | undefined }) {
    this.#db = options.db;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#retentionMs = options.retentionMs;
    const registers = options.registry ? [options.registry] : [];
    this.#calls = new Counter({ name: 'toolbelt_gateway_calls_total', help: 'MCP calls through the gateway, by outcome', labelNames: ['outcome'], registers });
    this.#latency = new Histogram({
      name: 'toolbelt_gateway_call_duration_seconds',
      help: 'Duration of MCP calls through the gateway',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.inFlight = new Gauge({ name: 'toolbelt_gateway_calls_in_flight', help: 'MCP calls in flight through this replica', registers });
  }

  /** Takes one finished call (buffered until the next flush; the oldest go past MAX_BUFFERED). */
  add(row: ToolCallInput): void {
    this.#calls.inc({ outcome: row.outcome });
    this.#latency.observe({ outcome: row.outcome }, row.duration_ms / 1000);
    if (this.#buffer.length >= MAX_BUFFERED) this.#buffer.shift();
    this.#buffer.push(row);
    if (row.outcome !== 'ok' && row.outcome !== 'tool_error' && row.outcome !== 'refused') void this.#event(row);
  }

  /** Writes the buffered rows in one statement. */
  async flush(): Promise<void> {
    if (this.#buffer.length === 0) return;
    const rows = this.#buffer;
    this.#buffer = [];
    try {
      await insertToolCalls(this.#db, rows);
    } catch (error) {
      this.#logger.warn({ err: error, rows: rows.length }, 'writing gateway audit rows failed; they are retried with the next flush');
      this.#buffer = [...rows, ...this.#buffer].slice(-MAX_BUFFERED);
    }
  }

  /** Deletes rows past the retention. */
  async prune(): Promise<number> {
    return pruneToolCalls(this.#db, new Date(this.#clock.now() - this.#retentionMs));
  }

  async #event(row: ToolCallInput): Promise<void> {
    const now = this.#clock.now();
    if (now - (this.#lastEvent.get(row.agent_id) ?? -Infinity) < EVENT_EVERY_MS) return;
    this.#lastEvent.set(row.agent_id, now);
    const where = row.instance_name ? ` on ${row.instance_name}` : '';
    await recordEvent(this.#db, {
      type: 'Warning',
      reason: 'ToolCallFailed',
      message: `${row.method} ${row.tool ?? ''}${where} by "${row.caller}": ${row.outcome}${row.error_code !== null ? ` (code ${row.error_code})` : ''}`,
      object: { kind: 'agent', id: row.agent_id },
      reporter: 'gateway',
      at: new Date(now),
    }).catch((error: unknown) => this.#logger.debug({ err: error }, 'recording a gateway event failed'));
  }
}

/** What a handler tells the recorder while a call runs. */
export interface CallNote {
  instance(name: string): void;
  reply(reply: McpReplyBody): McpReplyBody;
}

/** Records the calls of one caller of one agent. */
export class CallRecorder {
  constructor(
    private readonly audit: AuditLog,
    private readonly who: { caller: string; agentId: string; clock: Clock },
  ) {}

  /** Runs `fn`, measuring it; its reply (or thrown gateway error) decides the outcome. */
  async record<T>(call: { method: string; tool: string; params: unknown }, fn: (note: CallNote) => Promise<T>): Promise<T> {
    const started = performance.now();
    const row: ToolCallInput = {
      at: new Date(this.who.clock.now()),
      caller: this.who.caller,
      agent_id: this.who.agentId,
      instance_name: null,
      method: call.method,
      tool: call.tool.slice(0, 512) || null,
      duration_ms: 0,
      outcome: 'ok',
      error_code: null,
      bytes_in: JSON.stringify(call.params ?? {}).length,
      bytes_out: 0,
    };
    this.audit.inFlight.inc();
    const note: CallNote = {
      instance: (name) => void (row.instance_name = name),
      reply: (reply) => {
        row.bytes_out = JSON.stringify(reply).length;
        if ('error' in reply) Object.assign(row, { outcome: outcomeOf(reply.error.code), error_code: reply.error.code });
        else if (reply.result.isError === true) row.outcome = 'tool_error';
        return reply;
      },
    };
    try {
      return await fn(note);
    } catch (error) {
      if (error instanceof GatewayError) Object.assign(row, { outcome: outcomeOf(error.code), error_code: error.code });
      else if (row.outcome === 'ok') row.outcome = 'error';
      throw error;
    } finally {
      this.audit.inFlight.dec();
      row.duration_ms = Math.round(performance.now() - started);
      this.audit.add(row);
    }
  }
}
