/**
 * `/v1/agents/{id}/mcp`: the MCP endpoint of one agent (Streamable HTTP, official SDK v2).
 *
 * - 2026-07-28 (stateless): every request carries its revision and is answered by a fresh
 *   server from `createMcpHandler` (one handler per agent, so `subscriptions/listen` streams
 *   hear only their agent's `notifications/tools/list_changed`).
 * - 2025-11-25 (sessions): `isLegacyRequest` traffic goes to a sessionful
 *   `WebStandardStreamableHTTPServerTransport`; the session lives on the replica that answered
 *   `initialize` (bounded count, idle timeout). A session this replica does not know is 404,
 *   which tells a 2025 client to initialize again — on any replica.
 *
 * Per agent: a rate limit and a concurrency limit (429 with Retry-After).
 *
 * A request for an agent whose socket another replica holds is forwarded there whole
 * (forward.ts), so its calls, 2025 sessions and audit all live on the holder.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createMcpHandler,
  isLegacyRequest,
  type McpHttpHandler,
  type Server,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import type { Agent } from '@toolbelt/schema';
import { TokenBucket } from '@toolbelt/schema/protocol';
import type { Caller } from '../api/route.ts';
import { type AuditLog, CallRecorder } from './audit.ts';
import type { GatewayDeps } from './deps.ts';
import { forwardRequest, wasForwarded } from './forward.ts';
import { buildGatewayServer } from './server.ts';
import { Toolset } from './toolset.ts';
import { BodyTooLargeError, readRaw, sendWebResponse, toWebRequest } from './web.ts';

export interface EndpointOptions extends GatewayDeps {
  audit: AuditLog;
  /** Largest request body (bytes). */
  maxBodyBytes: number;
  /** Requests per second per agent (sustained; bursts of twice that). */
  ratePerAgent: number;
  /** Requests in flight per agent on this replica. */
  concurrencyPerAgent: number;
  /**
   * Where a request for `agent` must go instead: the URL of the replica holding its socket
   * when that is another one (forward.ts); undefined: answer here.
   */
  holderOf?: (agent: Agent) => Promise<string | undefined>;
  /** This replica's id (sent with forwarded requests). */
  replicaId?: string;
  /** 2025 sessions kept on this replica at most, and how long an idle one lives. */
  maxSessions?: number;
  sessionIdleMs?: number;
}

interface Principal {
  agent: Agent;
  caller: Caller;
}

interface LegacySession {
  transport: WebStandardStreamableHTTPServerTransport;
  server: Server;
  agentId: string;
  tokenId: string;
  lastUsed: number;
}

export class McpEndpoint {
  readonly #o: EndpointOptions & { maxSessions: number; sessionIdleMs: number };
  readonly #modern = new Map<string, McpHttpHandler>();
  readonly #sessions = new Map<string, LegacySession>();
  readonly #limits = new Map<string, { bucket: TokenBucket; active: number }>();

  constructor(options: EndpointOptions) {
    this.#o = { maxSessions: 10_000, sessionIdleMs: 30 * 60_000, ...options };
  }

  /** Serves one request of `caller` (already authorised for `agent`). */
  async handle(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    const limit = this.#limitOf(principal.agent.id);
    if (!limit.bucket.take() || limit.active >= this.#o.concurrencyPerAgent) {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: { code: 'RATE_LIMITED', message: `agent "${principal.agent.name}" has too many gateway requests right now; retry after a second` } }));
      return;
    }
    limit.active += 1;
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    try {
      let body: Buffer;
      try {
        body = await readRaw(req, this.#o.maxBodyBytes);
      } catch (error) {
        if (!(error instanceof BodyTooLargeError)) throw error;
        res.writeHead(413, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32013, message: error.message } }));
      }
      const holder = wasForwarded(req) ? undefined : await this.#o.holderOf?.(principal.agent);
      const response = holder
        ? await forwardRequest(req, body, { url: holder, from: this.#o.replicaId ?? 'unknown' }, abort.signal)
        : await this.#answer(toWebRequest(req, body, abort.signal), principal);
      await sendWebResponse(res, response);
    } finally {
      limit.active -= 1;
    }
  }

  async #answer(request: Request, principal: Principal): Promise<Response> {
    const legacy = await isLegacyRequest(request, undefined, { maxRequestBodySize: this.#o.maxBodyBytes }).catch(() => false);
    return legacy ? this.#legacy(request, principal) : this.#handlerOf(principal.agent).fetch(request, { authInfo: authInfo(principal) });
  }

  /** Tells the agent's listening clients that its tools (and prompts, resources) changed. */
  toolsChanged(agentId: string): void {
    const handler = this.#modern.get(agentId);
    handler?.notify.toolsChanged();
    handler?.notify.promptsChanged();
    handler?.notify.resourcesChanged();
    for (const session of this.#sessions.values()) {
      if (session.agentId === agentId) void session.server.sendToolListChanged().catch(() => {});
    }
  }

  /** Ends every session and listen stream (the API stops). */
  async close(): Promise<void> {
    await Promise.all([...this.#modern.values()].map((h) => h.close().catch(() => {})));
    for (const session of this.#sessions.values()) await session.transport.close().catch(() => {});
    this.#modern.clear();
    this.#sessions.clear();
  }

  /** The number of 2025 sessions held here. */
  get sessions(): number {
    return this.#sessions.size;
  }

  #limitOf(agentId: string) {
    let limit = this.#limits.get(agentId);
    if (!limit) {
      limit = { bucket: new TokenBucket({ perSecond: this.#o.ratePerAgent, burst: this.#o.ratePerAgent * 2, clock: this.#o.clock }), active: 0 };
      this.#limits.set(agentId, limit);
    }
    return limit;
  }

  #server(principal: Principal): Server {
    const recorder = new CallRecorder(this.#o.audit, { caller: principal.caller.name, agentId: principal.agent.id, clock: this.#o.clock });
    return buildGatewayServer(new Toolset(this.#o, principal.agent), recorder);
  }

  #handlerOf(agent: Agent): McpHttpHandler {
    let handler = this.#modern.get(agent.id);
    if (!handler) {
      handler = createMcpHandler((ctx) => this.#server(principalOf(ctx.authInfo)), {
        legacy: 'reject',
        maxRequestBodySize: this.#o.maxBodyBytes,
        onerror: (error) => this.#o.logger.debug({ err: error }, 'gateway request refused'),
      });
      this.#modern.set(agent.id, handler);
    }
    return handler;
  }

  async #legacy(request: Request, principal: Principal): Promise<Response> {
    const id = request.headers.get('mcp-session-id');
    if (id) {
      const session = this.#sessions.get(id);
      if (!session || session.agentId !== principal.agent.id || session.tokenId !== principal.caller.tokenId) {
        return jsonRpcError(404, -32001, 'unknown MCP session (it ended, or another replica held it): initialize a new one');
      }
      session.lastUsed = this.#o.clock.now();
      return session.transport.handleRequest(request);
    }
    this.#sweepSessions();
    if (request.method !== 'POST') return jsonRpcError(400, -32600, 'a 2025-11-25 request without a session must be a POST of initialize');
    if (this.#sessions.size >= this.#o.maxSessions) return jsonRpcError(503, -32012, 'this replica holds as many MCP sessions as it may; retry later');
    return this.#openSession(request, principal);
  }

  async #openSession(request: Request, principal: Principal): Promise<Response> {
    const server = this.#server(principal);
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => {
        this.#sessions.set(sessionId, { transport, server, agentId: principal.agent.id, tokenId: principal.caller.tokenId, lastUsed: this.#o.clock.now() });
      },
      onsessionclosed: (sessionId) => void this.#sessions.delete(sessionId),
    });
    await server.connect(transport);
    const response = await transport.handleRequest(request);
    if (!transport.sessionId) await server.close().catch(() => {}); // not an initialize: nothing to keep
    return response;
  }

  #sweepSessions(): void {
    const oldest = this.#o.clock.now() - this.#o.sessionIdleMs;
    for (const [id, session] of this.#sessions) {
      if (session.lastUsed >= oldest) continue;
      this.#sessions.delete(id);
      void session.server.close().catch(() => {});
    }
  }
}

function authInfo(principal: Principal) {
  return { token: '', clientId: principal.caller.name, scopes: [], extra: { principal } };
}

function principalOf(info: { extra?: Record<string, unknown> } | undefined): Principal {
  const principal = info?.extra?.principal as Principal | undefined;
  if (!principal) throw new Error('gateway request without its principal');
  return principal;
}

function jsonRpcError(status: number, code: number, message: string): Response {
  return new Response(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}
