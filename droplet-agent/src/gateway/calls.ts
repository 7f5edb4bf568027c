/**
 * The agent's end of the gateway: `mcp_call` frames become requests on the tool's shared MCP
 * session (`McpSessions`), answered with `mcp_reply`; `mcp_cancel` aborts the request, and
 * the SDK client tells the tool with `notifications/cancelled`. Calls in flight are tracked
 * (bounded), each with its own timeout; none is stored or retried — the caller retries.
 */
import { McpError, ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  BodyAssembler,
  type ControllerMessageOf,
  GATEWAY_ERROR_CODES,
  MAX_TOOL_CALL_BYTES,
  MAX_TOOL_CALLS_IN_FLIGHT,
  type McpCallBody,
  type McpReplyBody,
  type OutgoingAgentMessage,
  mcpCallBodySchema,
  splitBody,
} from '@toolbelt/schema/protocol';
import type { Logger } from '../log.ts';
import type { ToolManager } from '../tool-manager.ts';
import { type McpSessions, SessionUnavailableError } from './sessions.ts';

const DEFAULT_TIMEOUT_MS = 60_000;

export interface ToolCallsOptions {
  manager: ToolManager;
  sessions: McpSessions;
  send: (message: OutgoingAgentMessage) => boolean;
  log: Logger;
  maxInFlight?: number;
}

export class ToolCalls {
  readonly #o: ToolCallsOptions & { maxInFlight: number };
  readonly #parts = new BodyAssembler();
  /** Calls whose body is complete and which run now, by call id. */
  readonly #inFlight = new Map<string, AbortController>();
  /** First-part facts of calls still arriving in parts. */
  readonly #pending = new Map<string, { toolInstanceId: string; timeoutMs: number; notify: boolean }>();

  constructor(options: ToolCallsOptions) {
    this.#o = { maxInFlight: MAX_TOOL_CALLS_IN_FLIGHT, ...options };
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Takes one `mcp_call` frame; runs the call once its last part is in. */
  onCall(message: ControllerMessageOf<'mcp_call'>): void {
    const { callId } = message;
    const head = this.#pending.get(callId) ?? {
      toolInstanceId: message.toolInstanceId,
      timeoutMs: message.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      notify: message.notify === true,
    };
    if (this.#inFlight.has(callId)) return; // a duplicate of a call that runs: its answer will come
    if (this.#inFlight.size + this.#pending.size >= this.#o.maxInFlight && !this.#pending.has(callId)) {
      return this.#reply(callId, fault(GATEWAY_ERROR_CODES.overloaded, `the droplet runs ${this.#o.maxInFlight} calls already; retry later`));
    }
    const joined = this.#parts.add(callId, message.chunk, message.last);
    if (joined.kind === 'pending') return void this.#pending.set(callId, head);
    this.#pending.delete(callId);
    if (joined.kind === 'too_large') {
      return this.#reply(callId, fault(GATEWAY_ERROR_CODES.tooLarge, `the request is larger than ${MAX_TOOL_CALL_BYTES} characters`));
    }
    void this.#run(callId, head, joined.text);
  }

  /** The caller gave up: abort the request (the SDK sends notifications/cancelled). */
  onCancel(message: ControllerMessageOf<'mcp_cancel'>): void {
    this.#parts.drop(message.callId);
    this.#pending.delete(message.callId);
    this.#inFlight.get(message.callId)?.abort(new Error(message.reason ?? 'cancelled by the caller'));
  }

  /** Aborts everything (the agent stops). */
  close(): void {
    for (const abort of this.#inFlight.values()) abort.abort(new Error('the agent is stopping'));
  }

  async #run(callId: string, head: { toolInstanceId: string; timeoutMs: number; notify: boolean }, text: string): Promise<void> {
    const abort = new AbortController();
    this.#inFlight.set(callId, abort);
    try {
      const body = parseBody(text);
      if ('error' in body) return this.#reply(callId, body);
      const client = await this.#client(head.toolInstanceId);
      if (head.notify) {
        await client.notification({ method: body.method, ...(body.params ? { params: body.params } : {}) } as never);
        return;
      }
      const result = await client.request({ method: body.method, ...(body.params ? { params: body.params } : {}) } as never, ResultSchema, {
        signal: abort.signal,
        timeout: head.timeoutMs,
        maxTotalTimeout: head.timeoutMs,
      });
      this.#reply(callId, { result: result as Record<string, unknown> });
    } catch (error) {
      if (!(error instanceof McpError) || error.code === -32000) this.#o.sessions.drop(head.toolInstanceId);
      if (!abort.signal.aborted || !(error instanceof Error && error.name === 'AbortError')) this.#reply(callId, asFault(error));
    } finally {
      this.#inFlight.delete(callId);
    }
  }

  #client(toolInstanceId: string) {
    const tool = this.#o.manager.get(toolInstanceId);
    if (!tool) throw new SessionUnavailableError('no such tool on this droplet');
    return this.#o.sessions.client(toolInstanceId, tool.record.generation, async () => ({
      spec: tool.record.spec,
      report: await this.#o.manager.report(toolInstanceId),
      stdioTransport: () => tool.runtime.stdioTransport?.(toolInstanceId),
    }));
  }

  #reply(callId: string, body: McpReplyBody): void {
    let text = JSON.stringify(body);
    if (text.length > MAX_TOOL_CALL_BYTES) {
      text = JSON.stringify(fault(GATEWAY_ERROR_CODES.tooLarge, `the tool's answer is larger than ${MAX_TOOL_CALL_BYTES} characters`));
    }
    for (const part of splitBody(text)) {
      if (!this.#o.send({ type: 'mcp_reply', callId, ...part })) return; // the socket went: the caller hears of it there
    }
  }
}

function fault(code: number, message: string): { error: { code: number; message: string } } {
  return { error: { code, message } };
}

function parseBody(text: string): McpCallBody | { error: { code: number; message: string } } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fault(-32700, 'the request body is not JSON');
  }
  const parsed = mcpCallBodySchema.safeParse(value);
  return parsed.success ? parsed.data : fault(-32600, 'the request needs a method and object params');
}

/** An SDK or session failure as a JSON-RPC error the caller can act on. */
function asFault(error: unknown): McpReplyBody {
  if (error instanceof SessionUnavailableError) return fault(GATEWAY_ERROR_CODES.toolUnavailable, error.message);
  if (error instanceof McpError) {
    const message = error.message.replace(/^MCP error -?\d+: /, '');
    return { error: { code: error.code, message, ...(error.data !== undefined ? { data: error.data } : {}) } };
  }
  return fault(-32603, `the call failed on the droplet: ${(error as Error).message}`);
}
