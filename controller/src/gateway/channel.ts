/**
 * The controller's end of the gateway channel on agent sockets held by this replica: it
 * sends `mcp_call` frames (in parts), tracks each call in flight until its `mcp_reply`, its
 * timeout, its caller's abort (→ `mcp_cancel`, so the agent cancels it on the tool) or the
 * end of the socket (→ an `interrupted` error the caller may retry). Nothing is stored: a
 * call is a request/response on a live socket, unlike reconcile commands.
 */
import { randomUUID } from 'node:crypto';
import {
  type AgentMessageOf,
  BodyAssembler,
  GATEWAY_ERROR_CODES,
  MAX_TOOL_CALL_BYTES,
  type McpCallBody,
  type McpReplyBody,
  mcpReplyBodySchema,
  splitBody,
} from '@toolbelt/schema/protocol';
import type { AgentConnection } from '../hub/connection.ts';

/** What the channel needs of a socket: send a frame, and its identity. */
export type CallSocket = Pick<AgentConnection, 'send' | 'id' | 'environmentId'>;

export interface CallOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Sends a notification: no answer is awaited (resolves with an empty result once sent). */
  notify?: boolean;
}

interface Pending {
  socket: CallSocket;
  resolve: (reply: McpReplyBody) => void;
  timer: NodeJS.Timeout;
  cleanup: () => void;
}

/** JSON-RPC error bodies of the gateway's own failures. */
export const fault = (code: number, message: string): McpReplyBody => ({ error: { code, message } });

export class ToolChannel {
  readonly #pending = new Map<string, Pending>();
  readonly #parts = new BodyAssembler();

  /** Calls in flight on this replica. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * Sends one MCP request to a tool instance behind `socket` and resolves with its answer —
   * or a gateway error (timeout, cancelled, interrupted, too large). Never rejects.
   */
  call(socket: CallSocket, toolInstanceId: string, body: McpCallBody, options: CallOptions): Promise<McpReplyBody> {
    const text = JSON.stringify(body);
    if (text.length > MAX_TOOL_CALL_BYTES) {
      return Promise.resolve(fault(GATEWAY_ERROR_CODES.tooLarge, `the request is larger than ${MAX_TOOL_CALL_BYTES} characters`));
    }
    if (options.signal?.aborted) return Promise.resolve(fault(GATEWAY_ERROR_CODES.interrupted, 'the caller went away'));
    const callId = randomUUID();
    const parts = splitBody(text);
    const first = { toolInstanceId, timeoutMs: options.timeoutMs, ...(options.notify ? { notify: true } : {}) };
    const sent = parts.every((part, i) => socket.send({ type: 'mcp_call', callId, ...part, ...(i === 0 ? first : { toolInstanceId }) }));
    if (!sent) return Promise.resolve(fault(GATEWAY_ERROR_CODES.interrupted, "the agent's connection closed; retry"));
    if (options.notify) return Promise.resolve({ result: {} });
    return new Promise((resolve) => {
      const onAbort = () => {
        socket.send({ type: 'mcp_cancel', callId, reason: 'the caller cancelled the request' });
        this.#settle(callId, fault(GATEWAY_ERROR_CODES.interrupted, 'cancelled by the caller'));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      // The agent abandons the call after the same timeout; a little slack lets its answer win.
      const timer = setTimeout(() => {
        socket.send({ type: 'mcp_cancel', callId, reason: 'timed out' });
        this.#settle(callId, fault(GATEWAY_ERROR_CODES.timeout, `the tool did not answer within ${options.timeoutMs} ms`));
      }, options.timeoutMs + 1000);
      timer.unref();
      this.#pending.set(callId, { socket, resolve, timer, cleanup: () => options.signal?.removeEventListener('abort', onAbort) });
    });
  }

  /** Takes an `mcp_reply` frame from `socket`; replies for calls it did not carry are ignored. */
  onReply(socket: CallSocket, message: AgentMessageOf<'mcp_reply'>): void {
    const pending = this.#pending.get(message.callId);
    if (!pending || pending.socket.id !== socket.id) return;
    const joined = this.#parts.add(message.callId, message.chunk, message.last);
    if (joined.kind === 'pending') return;
    if (joined.kind === 'too_large') {
      return this.#settle(message.callId, fault(GATEWAY_ERROR_CODES.tooLarge, `the answer is larger than ${MAX_TOOL_CALL_BYTES} characters`));
    }
    this.#settle(message.callId, parseReply(joined.text));
  }

  /** The socket closed: every call it carried fails with `interrupted` (the caller may retry). */
  onClosed(socket: CallSocket): void {
    for (const [callId, pending] of this.#pending) {
      if (pending.socket.id === socket.id) {
        this.#settle(callId, fault(GATEWAY_ERROR_CODES.interrupted, "the agent's connection closed during the call; retry"));
      }
    }
  }

  #settle(callId: string, reply: McpReplyBody): void {
    const pending = this.#pending.get(callId);
    if (!pending) return;
    this.#pending.delete(callId);
    this.#parts.drop(callId);
    clearTimeout(pending.timer);
    pending.cleanup();
    pending.resolve(reply);
  }
}

function parseReply(text: string): McpReplyBody {
  try {
    const parsed = mcpReplyBodySchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {
    // fall through
  }
  return fault(-32603, 'the droplet agent sent an answer that is not a JSON-RPC result or error');
}
