/**
 * Runs each running tool's health check on its interval (sooner while it is not yet
 * healthy) and hands results to the tool manager, which reports changes. A tool whose health
 * is unknown — just installed, reconfigured, started again, or seen not running — is checked
 * within `retryMs`, not after the interval its last healthy check set.
 */
import type { Clock } from '@toolbelt/schema/clock';
import type { ToolSpec, ToolStatusReport } from '@toolbelt/schema/protocol';
import type { ToolManager } from '../tool-manager.ts';
import type { McpSessions } from '../gateway/sessions.ts';
import { type HealthResult, httpCheck, listCapabilities, mcpHttpCheck } from './mcp.ts';

export interface HealthMonitorOptions {
  manager: ToolManager;
  clock: Clock;
  agentVersion: string;
  /** The tools' shared MCP sessions: a stdio tool is checked over the one the gateway uses. */
  sessions: McpSessions;
  /** How often the monitor looks for due checks. */
  tickMs?: number;
  /** Interval while a tool is not (yet) healthy. */
  retryMs?: number;
}

export class HealthMonitor {
  readonly #o: Required<HealthMonitorOptions>;
  readonly #due = new Map<string, number>();
  /** When each tool's last check ended (due again `retryMs` later while its health is unknown). */
  readonly #checked = new Map<string, number>();
  readonly #running = new Set<string>();

  constructor(options: HealthMonitorOptions) {
    this.#o = { tickMs: 1000, retryMs: 2000, ...options };
  }

  /** Checks due tools until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      for (const [id, entry] of this.#o.manager.entries()) {
        if (this.#dueAt(id, entry.health.status) <= this.#o.clock.now() && !this.#running.has(id)) void this.check(id);
      }
      await this.#o.clock.sleep(this.#o.tickMs, signal).catch(() => {});
    }
  }

  #dueAt(toolInstanceId: string, health: string): number {
    const due = this.#due.get(toolInstanceId) ?? 0;
    return health === 'unknown' ? Math.min(due, (this.#checked.get(toolInstanceId) ?? 0) + this.#o.retryMs) : due;
  }

  /** Runs one tool's check now (skipped while one is in flight or the tool is not running). */
  async check(toolInstanceId: string): Promise<void> {
    if (this.#running.has(toolInstanceId)) return;
    this.#running.add(toolInstanceId);
    try {
      const entry = this.#o.manager.entries().find(([id]) => id === toolInstanceId)?.[1];
      if (!entry) return;
      const report = await this.#o.manager.report(toolInstanceId);
      if (report.state !== 'running') {
        // Whatever runs next (a restart by the runtime, a start) is checked afresh.
        if (entry.health.status !== 'unknown') this.#o.manager.setHealth(toolInstanceId, { status: 'unknown' });
        this.#due.set(toolInstanceId, this.#o.clock.now() + this.#o.retryMs);
        return;
      }
      const result = await this.#probe(report, entry);
      if (!result) return; // the stdio pipe is lent to someone else: try next tick
      const { intervalMs } = entry.record.spec.healthCheck ?? { intervalMs: 30_000 };
      this.#due.set(toolInstanceId, this.#o.clock.now() + (result.healthy ? intervalMs : this.#o.retryMs));
      const checkedAt = new Date(this.#o.clock.now()).toISOString();
      this.#o.manager.setHealth(
        toolInstanceId,
        { status: result.healthy ? 'healthy' : 'unhealthy', checkedAt, ...(result.message ? { message: result.message } : {}) },
        result.capabilities,
      );
    } catch {
      this.#due.set(toolInstanceId, this.#o.clock.now() + this.#o.retryMs);
    } finally {
      this.#checked.set(toolInstanceId, this.#o.clock.now());
      this.#running.delete(toolInstanceId);
    }
  }

  #stdioCheck(report: ToolStatusReport, entry: ReturnType<ToolManager['entries']>[number][1], timeoutMs: number) {
    return stdioCheck(this.#o.sessions, report, entry, timeoutMs);
  }

  async #probe(
    report: ToolStatusReport,
    entry: ReturnType<ToolManager['entries']>[number][1],
  ): Promise<HealthResult | undefined> {
    const { spec } = entry.record;
    const timeoutMs = spec.healthCheck?.timeoutMs ?? 10_000;
    const kind = checkKind(spec);
    if (kind === 'process') return { healthy: true, message: 'running' };
    if (kind === 'mcp' && spec.transport === 'mcp-stdio') return this.#stdioCheck(report, entry, timeoutMs);
    const url = checkUrl(report, spec);
    if (!url) return { healthy: false, message: 'the tool publishes no port to check' };
    return kind === 'mcp' ? mcpHttpCheck(url, timeoutMs, this.#o.agentVersion) : httpCheck(url, timeoutMs);
  }
}

/** tools/list over the tool's shared session (opened with initialize if it has none). */
async function stdioCheck(
  sessions: McpSessions,
  report: ToolStatusReport,
  entry: ReturnType<ToolManager['entries']>[number][1],
  timeoutMs: number,
): Promise<HealthResult> {
  const id = report.toolInstanceId;
  try {
    const target = async () => ({ spec: entry.record.spec, report, stdioTransport: () => entry.runtime.stdioTransport?.(id) });
    return await listCapabilities(await sessions.client(id, entry.record.generation, target), timeoutMs);
  } catch (error) {
    sessions.drop(id);
    return { healthy: false, message: `MCP check failed: ${(error as Error).message}` };
  }
}

/** The check a spec asks for; MCP transports default to an MCP session, http to a GET. */
function checkKind(spec: ToolSpec): 'mcp' | 'http' | 'process' {
  if (spec.healthCheck?.kind) return spec.healthCheck.kind;
  if (spec.transport === 'mcp-stdio' || spec.transport === 'mcp-http') return 'mcp';
  return spec.transport === 'http' ? 'http' : 'process';
}

/** The URL to check: the first endpoint, with the check's own port and path if it has them. */
function checkUrl(report: ToolStatusReport, spec: ToolSpec): string | undefined {
  const endpoint = report.endpoints[0];
  if (!endpoint) return undefined;
  const port = spec.healthCheck?.port ?? endpoint.port;
  const path = spec.healthCheck?.path ?? endpoint.path;
  return `http://${endpoint.host}:${port}${path.startsWith('/') ? path : `/${path}`}`;
}
