/**
 * Speaking MCP to an agent's gateway, `/v1/agents/{id}/mcp` (docs/gateway.md), from the
 * console: the 2026-07-28 revision, stateless — one POST per request, no session to open —
 * with the session cookie and CSRF token like any other write. The gateway takes an operator
 * or admin session as it takes their bearer tokens (a viewer's gets 403), applies its limits
 * and writes its audit row under the session's token name.
 */
import { ApiError, csrfHeader, sessionEnded } from './api.ts';

const REVISION = '2026-07-28';
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': REVISION,
  'io.modelcontextprotocol/clientInfo': { name: 'toolbelt-console', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** A JSON-RPC error the gateway (or the tool behind it) answered with (docs/gateway.md, "Errors"). */
export class McpError extends Error {
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

interface JsonRpcAnswer<T> {
  id?: unknown;
  result?: T;
  error?: { code: number; message: string };
}

/** The JSON-RPC answer with `id` in a response body: plain JSON, or one of the events of a stream. */
async function answerOf<T>(res: Response, id: number): Promise<JsonRpcAnswer<T> | undefined> {
  const text = await res.text();
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) return text ? (JSON.parse(text) as JsonRpcAnswer<T>) : undefined;
  const messages = text
    .split(/\r?\n\r?\n/)
    .map((event) => event.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n'))
    .filter(Boolean)
    .map((data) => JSON.parse(data) as JsonRpcAnswer<T>);
  return messages.find((m) => m.id === id && (m.result !== undefined || m.error !== undefined));
}

/** A refused request: a JSON-RPC error sent with an HTTP error status (a body too large), or the API's own refusal (401, 403, 404, 429). */
async function refusalOf(res: Response): Promise<Error> {
  const body = (await res.json().catch(() => undefined)) as { error?: { code?: unknown; message?: string; hint?: string } } | undefined;
  const error = body?.error;
  if (typeof error?.code === 'number') return new McpError(error.code, error.message ?? res.statusText);
  if (res.status === 401) sessionEnded();
  return new ApiError(res.status, { code: typeof error?.code === 'string' ? error.code : undefined, message: error?.message ?? res.statusText, hint: error?.hint });
}

let lastId = 0;

/** One MCP request (`tools/list`, `tools/call`) to the agent's gateway. Rejects with McpError or ApiError. */
export async function mcpRequest<T>(agentId: string, method: string, params: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
  const id = ++lastId;
  const headers: Record<string, string> = {
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
    'mcp-protocol-version': REVISION,
    'mcp-method': method,
    ...(method === 'tools/call' && typeof params.name === 'string' ? { 'mcp-name': params.name } : {}),
    ...csrfHeader(),
  };
  const body = JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: ENVELOPE } });
  const init: RequestInit = { method: 'POST', headers, body, credentials: 'same-origin', cache: 'no-store' };
  if (signal) init.signal = signal;
  const res = await fetch(`/v1/agents/${encodeURIComponent(agentId)}/mcp`, init);
  if (!res.ok) throw await refusalOf(res);
  const answer = await answerOf<T>(res, id);
  if (answer?.error) throw new McpError(answer.error.code, answer.error.message);
  if (answer?.result === undefined) throw new McpError(-32603, 'the gateway gave no answer to this request');
  return answer.result;
}
