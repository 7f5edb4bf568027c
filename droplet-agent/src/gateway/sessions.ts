/**
 * One MCP client session per tool, kept open and shared by everyone on the droplet who talks
 * to the tool: the health check and every gateway call. For an mcp-stdio tool the session
 * holds the agent-owned stdio pipe (`StdioChannel`) for as long as the channel lives — the
 * SDK client gives each request its own JSON-RPC id, so callers are multiplexed on the one
 * pipe; a restarted tool gets a new channel and, on next use, a new session. For an mcp-http
 * tool the session speaks Streamable HTTP to the tool on loopback.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ToolSpec, ToolStatusReport } from '@toolbelt/schema/protocol';

/** What the sessions need to know of a tool. */
export interface SessionTarget {
  spec: ToolSpec;
  report: ToolStatusReport;
  /** The agent-owned stdio pipe of an mcp-stdio tool (undefined while someone else holds it). */
  stdioTransport: () => Transport | undefined;
}

interface Session {
  client: Client;
  /** The tool's generation when the session opened; a newer one opens a new session. */
  generation: number;
  ready: Promise<Client>;
  closed: boolean;
}

export class SessionUnavailableError extends Error {}

export class McpSessions {
  readonly #sessions = new Map<string, Session>();
  readonly #agentVersion: string;
  readonly #connectTimeoutMs: number;

  constructor(options: { agentVersion: string; connectTimeoutMs?: number }) {
    this.#agentVersion = options.agentVersion;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  }

  /**
   * The tool's connected session, opened (initialize) on first use; `target` is only asked
   * for then (observing a tool costs a look at the runtime). Rejects with
   * SessionUnavailableError when the tool is not running or offers no MCP endpoint.
   */
  async client(toolInstanceId: string, generation: number, target: () => Promise<SessionTarget>): Promise<Client> {
    const current = this.#sessions.get(toolInstanceId);
    if (current && !current.closed && current.generation === generation) return current.ready;
    if (current) this.drop(toolInstanceId);
    return this.#open(toolInstanceId, generation, await target());
  }

  #open(toolInstanceId: string, generation: number, target: SessionTarget): Promise<Client> {
    const raced = this.#sessions.get(toolInstanceId);
    if (raced && !raced.closed && raced.generation === generation) return raced.ready;
    const key = sessionKey(target);
    const transport = key === 'stdio' ? target.stdioTransport() : new StreamableHTTPClientTransport(new URL(key));
    if (!transport) throw new SessionUnavailableError('the tool\'s stdio pipe is busy; retry');
    const client = new Client({ name: 'toolbelt-droplet-agent', version: this.#agentVersion });
    client.onerror = () => {}; // stray output on a shared pipe is nobody's failure
    const session: Session = { client, generation, closed: false, ready: Promise.resolve(client) };
    client.onclose = () => {
      session.closed = true;
      if (this.#sessions.get(toolInstanceId) === session) this.#sessions.delete(toolInstanceId);
    };
    session.ready = client.connect(transport, { timeout: this.#connectTimeoutMs }).then(
      () => client,
      (error: Error) => {
        this.drop(toolInstanceId);
        throw new SessionUnavailableError(`the tool did not answer initialize: ${error.message}`);
      },
    );
    this.#sessions.set(toolInstanceId, session);
    return session.ready;
  }

  /** Closes a tool's session (its tool went away, or the session broke). */
  drop(toolInstanceId: string): void {
    const session = this.#sessions.get(toolInstanceId);
    if (!session) return;
    this.#sessions.delete(toolInstanceId);
    session.closed = true;
    const transport = session.client.transport;
    if (transport instanceof StreamableHTTPClientTransport) void transport.terminateSession().catch(() => {});
    void session.client.close().catch(() => {});
  }

  closeAll(): void {
    for (const id of [...this.#sessions.keys()]) this.drop(id);
  }
}

/** `stdio`, or the URL of an mcp-http tool's first endpoint; throws when there is none. */
function sessionKey(target: SessionTarget): string {
  const { spec, report } = target;
  if (report.state !== 'running') throw new SessionUnavailableError(`the tool is ${report.state}, not running`);
  if (spec.transport === 'mcp-stdio') return 'stdio';
  if (spec.transport !== 'mcp-http') throw new SessionUnavailableError(`the tool's transport is ${spec.transport}, not MCP`);
  const endpoint = report.endpoints[0];
  if (!endpoint) throw new SessionUnavailableError('the tool publishes no port');
  const path = endpoint.path.startsWith('/') ? endpoint.path : `/${endpoint.path}`;
  return `http://${endpoint.host}:${endpoint.port}${path}`;
}
