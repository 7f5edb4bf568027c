/**
 * Decoding and encoding of protocol frames. Receivers call `parseAgentMessage` /
 * `parseControllerMessage` on every frame: they never throw, and a failure carries a stable
 * `AGENT_ERR_*` code and a detail that names the field (never a value, which may be secret).
 */
import type { z } from 'zod';
import { type AgentMessage, agentMessageSchema } from './agent-messages.ts';
import {
  AGENT_ERROR_CODES,
  type AgentErrorCode,
  CLOSE_CODES,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
} from './constants.ts';
import { type ControllerMessage, controllerMessageSchema } from './controller-messages.ts';

/** The outcome of decoding one frame. */
export type ParseResult<M> = { ok: true; message: M } | { ok: false; code: AgentErrorCode; detail: string };

/** What a WebSocket library hands a receiver: text, or binary as one or more buffers. */
export type RawFrame = string | Uint8Array | ArrayBuffer | readonly Uint8Array[];

const AGENT_TYPES = new Set(agentMessageSchema.options.map((o) => o.shape.type.value));
const CONTROLLER_TYPES = new Set(
  controllerMessageSchema.options.flatMap((o) =>
    'options' in o ? o.options.map((c) => c.shape.type.value) : [o.shape.type.value],
  ),
);

function frameText(raw: RawFrame): { text: string; bytes: number } {
  if (typeof raw === 'string') return { text: raw, bytes: Buffer.byteLength(raw) };
  const buffer = Array.isArray(raw)
    ? Buffer.concat(raw as readonly Uint8Array[])
    : Buffer.from(raw instanceof ArrayBuffer ? new Uint8Array(raw) : (raw as Uint8Array));
  return { text: buffer.toString('utf8'), bytes: buffer.byteLength };
}

const fail = (code: AgentErrorCode, detail: string) => ({ ok: false as const, code, detail });

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(message)'}: ${issue.message}`)
    .join('; ');
}

function decode<M>(raw: RawFrame, schema: z.ZodType<M>, known: Set<string>, side: string): ParseResult<M> {
  let frame: { text: string; bytes: number };
  try {
    frame = frameText(raw);
  } catch {
    return fail(AGENT_ERROR_CODES.invalidJson, 'the frame is neither text nor binary data');
  }
  if (frame.bytes > MAX_FRAME_BYTES) {
    return fail(AGENT_ERROR_CODES.frameTooLarge, `the frame has ${frame.bytes} bytes; the limit is ${MAX_FRAME_BYTES}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(frame.text);
  } catch (error) {
    return fail(AGENT_ERROR_CODES.invalidJson, `the frame is not JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(AGENT_ERROR_CODES.invalidMessage, 'a message must be a JSON object');
  }
  const { type, v } = value as { type?: unknown; v?: unknown };
  if (typeof type !== 'string') return fail(AGENT_ERROR_CODES.invalidMessage, 'type: must be a string');
  if (typeof v !== 'number') return fail(AGENT_ERROR_CODES.invalidMessage, 'v: must be the protocol version number');
  if (!SUPPORTED_PROTOCOL_VERSIONS.includes(v)) {
    return fail(
      AGENT_ERROR_CODES.versionUnsupported,
      `protocol version ${v} is not supported (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
    );
  }
  if (!known.has(type)) {
    return fail(AGENT_ERROR_CODES.unknownType, `"${type.slice(0, 64)}" is not a ${side} message type`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) return fail(AGENT_ERROR_CODES.invalidMessage, `${type}: ${describeIssues(parsed.error)}`);
  return { ok: true, message: parsed.data };
}

/** Decodes and validates a frame an agent sent (the controller's receive path). */
export function parseAgentMessage(raw: RawFrame): ParseResult<AgentMessage> {
  return decode(raw, agentMessageSchema, AGENT_TYPES, 'agent');
}

/** Decodes and validates a frame a controller sent (the agent's receive path). */
export function parseControllerMessage(raw: RawFrame): ParseResult<ControllerMessage> {
  return decode(raw, controllerMessageSchema, CONTROLLER_TYPES, 'controller');
}

/** Distributes Omit over a union, so each member keeps its own fields. */
export type WithoutVersion<M> = M extends unknown ? Omit<M, 'v'> : never;

/** A message an agent sends, before `v` is added (defaulted fields may be left out). */
export type OutgoingAgentMessage = WithoutVersion<z.input<typeof agentMessageSchema>>;
/** A message a controller sends, before `v` is added (defaulted fields may be left out). */
export type OutgoingControllerMessage = WithoutVersion<z.input<typeof controllerMessageSchema>>;

/**
 * Serialises a message with the current protocol version. Throws a RangeError if the
 * result would exceed MAX_FRAME_BYTES — a sender bug (split logs, cap inventories).
 */
export function encodeMessage(message: OutgoingAgentMessage | OutgoingControllerMessage): string {
  const text = JSON.stringify({ ...message, v: PROTOCOL_VERSION });
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_FRAME_BYTES) {
    throw new RangeError(`a ${message.type} message of ${bytes} bytes exceeds MAX_FRAME_BYTES (${MAX_FRAME_BYTES})`);
  }
  return text;
}

/**
 * The close code a receiver uses when a decode failure ends the connection. Most bad frames
 * get an `error` message and the socket stays; these codes end it.
 */
export function closeCodeFor(code: AgentErrorCode): number | undefined {
  switch (code) {
    case AGENT_ERROR_CODES.versionUnsupported:
      return CLOSE_CODES.versionUnsupported;
    case AGENT_ERROR_CODES.frameTooLarge:
      return CLOSE_CODES.messageTooBig;
    case AGENT_ERROR_CODES.rateLimited:
      return CLOSE_CODES.rateLimited;
    case AGENT_ERROR_CODES.unauthorized:
      return CLOSE_CODES.unauthorized;
    case AGENT_ERROR_CODES.revoked:
      return CLOSE_CODES.revoked;
    default:
      return undefined;
  }
}
