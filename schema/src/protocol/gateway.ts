/**
 * The gateway's messages on the agent socket: an MCP request (or notification) from a caller
 * on the controller to one tool instance on the droplet, its answer, and its cancellation.
 * This is a request/response path with in-flight tracking on both ends, apart from the
 * reconcile commands (`command` / `command_result`): a call is never stored or re-sent.
 *
 * A body (JSON text) larger than one frame travels as consecutive parts of the same `callId`,
 * `last: true` on the final one; the receiver joins them and refuses a body over
 * MAX_TOOL_CALL_BYTES. Each part holds at most MAX_TOOL_CALL_PART_CHARS characters, so even
 * a part whose every character JSON escapes as `\u00XX` stays under MAX_FRAME_BYTES.
 */
import { z } from 'zod';
import { wireIdSchema } from './tool.ts';

const v = z.number().int().positive();

/** Characters of body per frame (≤ 6 bytes each once JSON-escaped: 768 KiB < 1 MiB). */
export const MAX_TOOL_CALL_PART_CHARS = 128 * 1024;
/** The largest body of one call or answer, joined from its parts (characters). */
export const MAX_TOOL_CALL_BYTES = 8 * 1024 * 1024;
/** Calls one agent runs at once; more are answered with a JSON-RPC error at once. */
export const MAX_TOOL_CALLS_IN_FLIGHT = 1024;
/** The longest a caller may ask a call to run. */
export const MAX_TOOL_CALL_TIMEOUT_MS = 600_000;

/**
 * The JSON-RPC error codes the gateway itself answers with (besides JSON-RPC's own
 * -32600..-32603). The server-error range -32000..-32099 is the implementation's.
 */
export const GATEWAY_ERROR_CODES = {
  /** The connection carrying the call went away (agent restart, replica draining); retry. Same as the SDK's ConnectionClosed. */
  interrupted: -32000,
  /** The call did not finish within its timeout. Same as the SDK's RequestTimeout. */
  timeout: -32001,
  /** The tool instance is not running, or not an MCP tool, on this droplet. */
  toolUnavailable: -32010,
  /** The agent is not connected (environment off, droplet down, agent offline). */
  agentUnavailable: -32011,
  /** Too many calls in flight or too many per second. */
  overloaded: -32012,
  /** The request or the answer was larger than allowed. */
  tooLarge: -32013,
  /** The caller may not use this tool (filtered by allowed_tools / denied_tools). */
  forbidden: -32014,
} as const;

const part = {
  callId: wireIdSchema,
  /** One part of the body's JSON text. */
  chunk: z.string().max(MAX_TOOL_CALL_PART_CHARS),
  /** True on the final part. */
  last: z.boolean(),
};

/**
 * Controller → agent: an MCP request (`{ method, params }`, answered by `mcp_reply`) or, with
 * `notify`, a notification (no answer). The agent gives it its own JSON-RPC id on the tool's
 * shared session, so callers' ids never collide.
 */
export const mcpCallMessageSchema = z.object({
  type: z.literal('mcp_call'),
  v,
  ...part,
  toolInstanceId: wireIdSchema,
  /** Set on the first part: the agent abandons (and cancels) the call after this long. */
  timeoutMs: z.number().int().min(1).max(MAX_TOOL_CALL_TIMEOUT_MS).optional(),
  notify: z.boolean().optional(),
});

/** Controller → agent: the caller gave up; the agent sends `notifications/cancelled` to the tool. */
export const mcpCancelMessageSchema = z.object({
  type: z.literal('mcp_cancel'),
  v,
  callId: wireIdSchema,
  reason: z.string().max(512).optional(),
});

/** Agent → controller: the answer, `{ result }` or `{ error: { code, message, data? } }`, in parts. */
export const mcpReplyMessageSchema = z.object({
  type: z.literal('mcp_reply'),
  v,
  ...part,
});

/** The body of an `mcp_call` once joined. */
export const mcpCallBodySchema = z.object({
  method: z.string().min(1).max(256),
  params: z.record(z.string(), z.unknown()).optional(),
});
export type McpCallBody = z.infer<typeof mcpCallBodySchema>;

/** The body of an `mcp_reply` once joined. */
export const mcpReplyBodySchema = z.union([
  z.object({ result: z.record(z.string(), z.unknown()) }),
  z.object({ error: z.object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() }) }),
]);
export type McpReplyBody = z.infer<typeof mcpReplyBodySchema>;

/** Splits a body's JSON text into parts for consecutive frames. */
export function splitBody(text: string): { chunk: string; last: boolean }[] {
  if (text.length <= MAX_TOOL_CALL_PART_CHARS) return [{ chunk: text, last: true }];
  const parts: { chunk: string; last: boolean }[] = [];
  for (let at = 0; at < text.length; at += MAX_TOOL_CALL_PART_CHARS) {
    parts.push({ chunk: text.slice(at, at + MAX_TOOL_CALL_PART_CHARS), last: at + MAX_TOOL_CALL_PART_CHARS >= text.length });
  }
  return parts;
}

/**
 * Joins the parts of bodies arriving per id, bounded: a body over `maxChars` is refused and
 * forgotten (the rest of its parts are then ignored until its `last`).
 */
export class BodyAssembler {
  readonly #open = new Map<string, { parts: string[]; chars: number; refused: boolean }>();
  readonly #maxChars: number;
  readonly #maxOpen: number;

  constructor(options: { maxChars?: number; maxOpen?: number } = {}) {
    this.#maxChars = options.maxChars ?? MAX_TOOL_CALL_BYTES;
    this.#maxOpen = options.maxOpen ?? MAX_TOOL_CALLS_IN_FLIGHT;
  }

  /**
   * Adds a part. Answers `pending` until the last part, then the whole text, or `too_large`
   * (once, on the part that crossed the bound; later parts of that id are `pending` until its last).
   */
  add(id: string, chunk: string, last: boolean): { kind: 'pending' } | { kind: 'complete'; text: string } | { kind: 'too_large' } {
    const known = this.#open.get(id);
    if (!known && !last && this.#open.size >= this.#maxOpen) return { kind: 'too_large' };
    const entry = known ?? { parts: [], chars: 0, refused: false };
    if (entry.refused) {
      if (last) this.#open.delete(id);
      return { kind: 'pending' };
    }
    entry.chars += chunk.length;
    if (entry.chars > this.#maxChars) {
      if (last) this.#open.delete(id);
      else this.#open.set(id, { parts: [], chars: 0, refused: true });
      return { kind: 'too_large' };
    }
    if (last) {
      this.#open.delete(id);
      return { kind: 'complete', text: entry.parts.length ? entry.parts.join('') + chunk : chunk };
    }
    entry.parts.push(chunk);
    this.#open.set(id, entry);
    return { kind: 'pending' };
  }

  /** Forgets an id's parts (cancelled, timed out, connection gone). */
  drop(id: string): void {
    this.#open.delete(id);
  }

  /** Characters held in unfinished bodies. */
  get heldChars(): number {
    let total = 0;
    for (const entry of this.#open.values()) total += entry.chars;
    return total;
  }

  get size(): number {
    return this.#open.size;
  }
}

/**
 * Controller → agent: send the tool's last `tail` log lines as `logs` messages carrying this
 * `streamId`, and with `follow`, every new line after them until `logs_stop` (or the socket
 * closes). Lines are masked by the agent (the tool's own secret values never leave it).
 */
export const logsFollowMessageSchema = z.object({
  type: z.literal('logs_follow'),
  v,
  streamId: wireIdSchema,
  toolInstanceId: wireIdSchema,
  tail: z.number().int().min(0).max(10_000),
  follow: z.boolean(),
});

/** Controller → agent: stop a `logs_follow` stream. */
export const logsStopMessageSchema = z.object({
  type: z.literal('logs_stop'),
  v,
  streamId: wireIdSchema,
});
