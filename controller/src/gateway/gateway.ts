/**
 * The MCP gateway as a component (every replica): the `/v1/agents/{id}/mcp` endpoint, the
 * routing of calls to the agent's socket (forwarding the request to the replica holding it
 * when that is another), the audit writer, and the list-changed signal.
 *
 * List changes: the replica holding an agent's socket hears its tool reports (hub events)
 * and NOTIFYs `toolbelt_gateway_lists` with the agent id (at most every 250 ms per agent), as
 * does a change of an instance's filters (ops/tools.ts); every replica LISTENs and tells its clients of that agent (`notifications/tools/list_changed`).
 */
import {
  type Agent,
  announceGatewayLists,
  type Clock,
  type Database,
  GATEWAY_LISTS_CHANNEL,
  getEnvironment,
  getEnvironmentByAgent,
  getSocketHolder,
} from '@toolbelt/schema';
import { GATEWAY_ERROR_CODES, type McpCallBody, type McpReplyBody } from '@toolbelt/schema/protocol';
import type { Registry } from 'prom-client';
import type { Component } from '../component.ts';
import type { AgentHub } from '../hub/index.ts';
import type { AgentEvent } from '../hub/options.ts';
import type { Logger } from '../logger.ts';
import { AuditLog } from './audit.ts';
import { type CallOptions, fault } from './channel.ts';
import { McpEndpoint } from './endpoint.ts';

const LIST_EVENTS = new Set<AgentEvent['kind']>(['hello', 'tool_status', 'inventory', 'disconnected']);

export interface GatewaySettings {
  gatewayCallTimeoutMs: number;
  gatewayRatePerAgent: number;
  gatewayConcurrencyPerAgent: number;
  gatewayMaxBodyBytes: number;
  gatewayAuditRetentionMs: number;
}

export interface GatewayOptions {
  database: Database;
  hub: AgentHub;
  logger: Logger;
  clock: Clock;
  settings: GatewaySettings;
  registry?: Registry | undefined;
  /** How often audit rows are written (default 500 ms). */
  auditFlushMs?: number;
}

export class Gateway implements Component {
  readonly name = 'gateway';
  readonly needsLeadership = false;
  readonly endpoint: McpEndpoint;
  readonly audit: AuditLog;
  readonly #o: GatewayOptions;
  readonly #agentOf = new Map<string, string>();
  readonly #environmentOf = new Map<string, string>();
  readonly #noticed = new Map<string, number>();
  #abort = new AbortController();
  #loops: Promise<void>[] = [];
  #unlisten: (() => Promise<void>) | undefined;

  constructor(options: GatewayOptions) {
    this.#o = options;
    const { database, logger, clock, settings } = options;
    this.audit = new AuditLog({ db: database.db, clock, logger, retentionMs: settings.gatewayAuditRetentionMs, registry: options.registry });
    this.endpoint = new McpEndpoint({
      db: database.db,
      logger,
      clock,
      route: (environmentId, toolInstanceId, body, callOptions) => this.#route(environmentId, toolInstanceId, body, callOptions),
      callTimeoutMs: settings.gatewayCallTimeoutMs,
      audit: this.audit,
      maxBodyBytes: settings.gatewayMaxBodyBytes,
      ratePerAgent: settings.gatewayRatePerAgent,
      concurrencyPerAgent: settings.gatewayConcurrencyPerAgent,
      holderOf: (agent) => this.#holderOf(agent),
      replicaId: options.hub.replicaId,
    });
  }

  async start(): Promise<void> {
    this.#abort = new AbortController();
    this.#unlisten = await this.#o.database.listen(GATEWAY_LISTS_CHANNEL, (agentId) => this.endpoint.toolsChanged(agentId));
    const signal = this.#abort.signal;
    this.#loops = [
      this.#every(signal, this.#o.auditFlushMs ?? 500, () => this.audit.flush()),
      this.#every(signal, 3600_000, () => this.audit.prune()),
    ];
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#loops);
    await this.#unlisten?.().catch(() => {});
    await this.endpoint.close();
    await this.audit.flush();
  }

  /** The hub's agent events: a change of an agent's tools is announced to every replica. Never throws. */
  readonly onAgentEvent = (event: AgentEvent): void => {
    if (!LIST_EVENTS.has(event.kind)) return;
    const now = this.#o.clock.now();
    if (now - (this.#noticed.get(event.environmentId) ?? -Infinity) < 250) return;
    this.#noticed.set(event.environmentId, now);
    void this.#announce(event.environmentId).catch((error: unknown) => this.#o.logger.debug({ err: error }, 'announcing a toolbelt change failed'));
  };

  async #announce(environmentId: string): Promise<void> {
    const db = this.#o.database.db;
    let agentId = this.#agentOf.get(environmentId);
    if (agentId === undefined) {
      agentId = (await getEnvironment(db, environmentId))?.agent_id;
      if (agentId === undefined) return;
      this.#agentOf.set(environmentId, agentId);
    }
    await announceGatewayLists(db, agentId);
  }

  /**
   * The URL of the replica holding the agent's socket, when another one holds it (its
   * session is open and names a URL); undefined when this one does, or none does.
   */
  async #holderOf(agent: Agent): Promise<string | undefined> {
    const db = this.#o.database.db;
    let environmentId = this.#environmentOf.get(agent.id);
    if (environmentId === undefined) {
      environmentId = (await getEnvironmentByAgent(db, agent.id))?.id;
      if (environmentId === undefined) return undefined;
      this.#environmentOf.set(agent.id, environmentId);
    }
    if (this.#o.hub.isConnected(environmentId)) return undefined;
    const holder = await getSocketHolder(db, environmentId);
    return holder && holder.replicaId !== this.#o.hub.replicaId && holder.replicaUrl ? holder.replicaUrl : undefined;
  }

  /** Sends a call over the agent's socket on this replica (a request for another's was forwarded before it got here). */
  async #route(environmentId: string, toolInstanceId: string, body: McpCallBody, options: CallOptions): Promise<McpReplyBody> {
    const local = this.#o.hub.callTool(environmentId, toolInstanceId, body, options);
    if (local) return local;
    return fault(GATEWAY_ERROR_CODES.agentUnavailable, await this.#offline(environmentId));
  }

  async #offline(environmentId: string): Promise<string> {
    const environment = await getEnvironment(this.#o.database.db, environmentId);
    const heard = environment?.last_heartbeat_at ? `; last heard from at ${environment.last_heartbeat_at.toISOString()}` : '; it never connected';
    return `the droplet agent is not connected (environment ${environment?.status ?? 'unknown'}${heard}); retry once it is back`;
  }

  async #every(signal: AbortSignal, ms: number, task: () => Promise<unknown>): Promise<void> {
    while (!signal.aborted) {
      await this.#o.clock.sleep(ms, signal).catch(() => {});
      if (signal.aborted) return;
      await task().catch((error: unknown) => this.#o.logger.warn({ err: error }, 'gateway housekeeping failed'));
    }
  }
}
