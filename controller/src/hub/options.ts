/**
 * The agent hub's options: dependencies and tunables in one object whose defaults are the
 * real ones, checked once at construction (an invalid combination is refused with advice).
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { type Clock, type Database, ToolbeltError, systemClock } from '@toolbelt/schema';
import { AGENT_WS_PATH, DEFAULT_HEARTBEAT_INTERVAL_MS, type AgentMessageOf } from '@toolbelt/schema/protocol';
import { type ConnectionLimits, DEFAULT_CONNECTION_LIMITS } from './connection.ts';
import type { HttpServer } from '../http/server.ts';
import type { Logger } from '../logger.ts';

/** Something an agent did that a reconciler may want to look at; the loop maps it to keys. */
export interface AgentEvent {
  kind: 'connected' | 'hello' | 'disconnected' | 'tool_status' | 'inventory' | 'command_result' | 'command_timed_out' | 'revoked';
  environmentId: string;
  /** The environment's agent, on the events about its connection (connected, hello, disconnected, revoked). */
  agentId?: string | undefined;
  toolInstanceId?: string | undefined;
  commandId?: string | undefined;
}

/**
 * Gives the values of a tool instance's secret environment variables. The hub calls it only
 * after checking that the tool instance belongs to the asking agent's environment, and
 * passes on only the names asked for. WARNING: what it returns is never logged.
 */
export type SecretResolver = (
  environmentId: string,
  toolInstanceId: string,
  names: readonly string[],
) => Promise<Record<string, string>>;

export interface AgentHubOptions {
  database: Database;
  http: HttpServer;
  logger: Logger;
  clock?: Clock;
  /** This replica's name in the store (sessions, `sent_by`); default host-pid-random. */
  replicaId?: string;
  /** Where this replica takes gateway requests forwarded by the others (kept on each agent session). */
  replicaUrl?: (() => string | undefined) | undefined;
  path?: string;
  /** How often agents are told to send heartbeats (`welcome`). */
  heartbeatIntervalMs?: number;
  /** How often buffered heartbeats are written, all in one statement. */
  heartbeatFlushMs?: number;
  /** Ping period; a socket that did not answer the previous ping is terminated. */
  pingIntervalMs?: number;
  /** How often open commands past their deadline are timed out. */
  commandSweepIntervalMs?: number;
  /** How long finished commands are kept. */
  commandRetentionMs?: number;
  /** Agent credentials older than this are rotated (checked on hello and hourly). */
  credentialRotateAfterMs?: number;
  rotationCheckIntervalMs?: number;
  /**
   * Flood limits per socket (token buckets in messages and bytes, invalid frames before
   * closing, the backlog of unhandled messages); what is given overrides the protocol's defaults.
   */
  receiveLimits?: Partial<ConnectionLimits>;
  /** Sockets this replica holds at most; further upgrades get 503 (the nofile limit is 20,000). */
  maxConnections?: number;
  /** Credential checks in flight at once; more upgrades wait their turn (a reconnect storm). */
  maxConcurrentAuth?: number;
  /**
   * Draining (stop): the sockets held here are closed over at most this long, 20 ms apart,
   * so that their agents reconnect to the other replicas as a trickle, not a storm.
   */
  drainSpreadMs?: number;
  /** Draining: sockets still open this long after it began are cut. */
  drainTimeoutMs?: number;
  /** Without one, every secret_request is refused. */
  secrets?: SecretResolver | undefined;
  /** Called for every agent event (the loop plugs its queue in). Must not throw or block. */
  onAgentEvent?: ((event: AgentEvent) => void) | undefined;
  /** Called for streamed tool logs (not answers to get_logs, which go to the command row). */
  onLogs?: ((environmentId: string, message: AgentMessageOf<'logs'>) => void) | undefined;
}

export type ResolvedHubOptions = Required<Omit<AgentHubOptions, 'secrets' | 'onAgentEvent' | 'onLogs' | 'receiveLimits' | 'replicaUrl'>> &
  Pick<AgentHubOptions, 'secrets' | 'onAgentEvent' | 'onLogs' | 'replicaUrl'> & { receiveLimits: ConnectionLimits };

const DEFAULTS = {
  path: AGENT_WS_PATH,
  heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
  heartbeatFlushMs: 1000,
  pingIntervalMs: 10_000,
  commandSweepIntervalMs: 1000,
  commandRetentionMs: 24 * 60 * 60 * 1000,
  credentialRotateAfterMs: 7 * 24 * 60 * 60 * 1000,
  rotationCheckIntervalMs: 60 * 60 * 1000,
  receiveLimits: { ...DEFAULT_CONNECTION_LIMITS } as ConnectionLimits,
  maxConnections: 19_000,
  maxConcurrentAuth: 32,
  drainSpreadMs: 5_000,
  drainTimeoutMs: 15_000,
};

const POSITIVE: readonly (keyof typeof DEFAULTS)[] = [
  'heartbeatIntervalMs',
  'heartbeatFlushMs',
  'pingIntervalMs',
  'commandSweepIntervalMs',
  'commandRetentionMs',
  'credentialRotateAfterMs',
  'rotationCheckIntervalMs',
  'maxConnections',
  'maxConcurrentAuth',
  'drainSpreadMs',
  'drainTimeoutMs',
];

/** Spreads the defaults once and refuses settings that cannot work. */
export function resolveHubOptions(options: AgentHubOptions): ResolvedHubOptions {
  const resolved: ResolvedHubOptions = {
    ...DEFAULTS,
    clock: systemClock,
    replicaId: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    ...stripUndefined(options),
    database: options.database,
    http: options.http,
    logger: options.logger,
    receiveLimits: { ...DEFAULT_CONNECTION_LIMITS, ...stripUndefined(options.receiveLimits ?? {}) },
  };
  for (const name of POSITIVE) {
    const value = resolved[name] as number;
    if (!Number.isFinite(value) || value <= 0) {
      throw new ToolbeltError('HUB_OPTIONS_INVALID', `hub option ${name} must be a positive number, got ${value}`);
    }
  }
  if (resolved.heartbeatIntervalMs < 1000 || resolved.heartbeatIntervalMs > 300_000) {
    throw new ToolbeltError('HUB_OPTIONS_INVALID', `heartbeatIntervalMs must be 1000–300000 (the protocol's range)`);
  }
  if (!resolved.path.startsWith('/')) {
    throw new ToolbeltError('HUB_OPTIONS_INVALID', `hub path must start with "/", got "${resolved.path}"`);
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
