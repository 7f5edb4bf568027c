/**
 * The agent hub: the controller's WebSocket endpoint for droplet agents (`/agent/v1`),
 * attached to the API's HTTP server with `noServer`/`handleUpgrade`. It runs on every
 * replica (no leadership needed); whatever must reach an agent whose socket is on another
 * replica goes through Postgres (the `commands` table and NOTIFY).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  AGENT_SESSIONS_CHANNEL,
  COMMANDS_CHANNEL,
  CREDENTIALS_REVOKED_CHANNEL,
  closeReplicaSessions,
  getAgentSession,
  recordAgentConnected,
  recordAgentDisconnected,
  rotateAgentCredential,
} from '@toolbelt/schema';
import { AGENT_ERROR_CODES, CLOSE_CODES, MAX_FRAME_BYTES } from '@toolbelt/schema/protocol';
import { type McpCallBody, type McpReplyBody } from '@toolbelt/schema/protocol';
import { WebSocket, WebSocketServer } from 'ws';
import type { Component } from '../component.ts';
import { type CallOptions, ToolChannel } from '../gateway/channel.ts';
import { CommandRouter } from './commands.ts';
import { type AgentIdentity, AgentConnection } from './connection.ts';
import type { HubContext } from './context.ts';
import { handleMessage } from './handlers.ts';
import { HeartbeatBuffer } from './heartbeats.ts';
import { type AgentEvent, type AgentHubOptions, type ResolvedHubOptions, resolveHubOptions } from './options.ts';
import { pathOf } from '../http/router.ts';
import { Semaphore } from './semaphore.ts';
import { authorizeUpgrade, writeRefusal } from './upgrade.ts';

/** Counters for tests, benchmarks and metrics. */
export interface HubStats {
  connections: number;
  accepted: number;
  refused: number;
  pendingUpgrades: number;
  /** The most credential checks that were ever in flight at once. */
  peakConcurrentAuth: number;
  heartbeatsReceived: number;
  heartbeatRowsWritten: number;
  heartbeatFlushes: number;
  /** Time spent writing heartbeats (ms), in total and the longest flush. */
  heartbeatFlushMsTotal: number;
  heartbeatFlushMsMax: number;
  commandsSent: number;
  commandsTimedOut: number;
  violations: number;
  /** Inventories replaced by a newer one before they were handled. */
  inventoriesCoalesced: number;
  /** Sockets closed with 4010 (more unhandled work queued than allowed). */
  backlogCloses: number;
}

export class AgentHub implements Component {
  readonly name = 'agent-hub';
  readonly needsLeadership = false;
  readonly #o: ResolvedHubOptions;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
  /** The current connection of each environment held here. */
  readonly #connections = new Map<string, AgentConnection>();
  readonly #auth: Semaphore;
  readonly #heartbeats: HeartbeatBuffer;
  readonly #commands: CommandRouter;
  readonly #ctx: HubContext;
  readonly #counts = { accepted: 0, refused: 0, pending: 0 };
  /** Gateway calls in flight on the sockets held here. */
  readonly tools = new ToolChannel();
  #accepting = false;
  #draining = false;
  #abort = new AbortController();
  #loops: Promise<void>[] = [];
  #unlisten: (() => Promise<void>)[] = [];

  constructor(options: AgentHubOptions) {
    this.#o = resolveHubOptions(options);
    const { database, clock, logger } = this.#o;
    this.#auth = new Semaphore(this.#o.maxConcurrentAuth);
    this.#heartbeats = new HeartbeatBuffer({ db: database.db, clock, logger, flushMs: this.#o.heartbeatFlushMs });
    this.#commands = new CommandRouter({
      db: database.db,
      clock,
      logger,
      replicaId: this.#o.replicaId,
      emit: (event) => this.#emit(event),
    });
    this.#ctx = {
      db: database.db,
      clock,
      logger,
      options: this.#o,
      heartbeats: this.#heartbeats,
      commands: this.#commands,
      emit: (event) => this.#emit(event),
      rotateIfDue: (connection) => this.#rotateIfDue(connection),
      stats: { violations: 0, inventoriesCoalesced: 0, backlogCloses: 0 },
    };
    this.#o.http.onUpgrade((req, socket, head) => this.#onUpgrade(req, socket, head));
  }

  /** This replica's id in the store. */
  get replicaId(): string {
    return this.#o.replicaId;
  }

  async start(): Promise<void> {
    const { database } = this.#o;
    this.#abort = new AbortController();
    const listen = async (channel: string, on: (payload: string) => unknown) =>
      this.#unlisten.push(
        await database.listen(channel, (payload) => {
          Promise.resolve(on(payload)).catch((error: unknown) => this.#o.logger.warn({ err: error, channel }, 'notification handling failed'));
        }),
      );
    await listen(COMMANDS_CHANNEL, (id) => this.#onCommandsQueued(id));
    await listen(CREDENTIALS_REVOKED_CHANNEL, (id) => this.#onRevoked(id));
    await listen(AGENT_SESSIONS_CHANNEL, (payload) => this.#onSessionElsewhere(payload));
    const signal = this.#abort.signal;
    this.#loops = [
      this.#heartbeats.run(signal),
      this.#commands.runSweeper(signal, this.#o.commandSweepIntervalMs, this.#o.commandRetentionMs),
      this.#every(signal, this.#o.pingIntervalMs, () => this.#ping()),
      this.#every(signal, this.#o.rotationCheckIntervalMs, () => this.#rotateDue()),
    ];
    this.#accepting = true;
    this.#draining = false;
  }

  /** Drains (see `drain`), then stops the hub's loops, flushes heartbeats and unlistens. */
  async stop(): Promise<void> {
    if (!this.#accepting && this.#loops.length === 0) return;
    await this.drain();
    this.#abort.abort();
    await Promise.all(this.#loops);
    this.#loops = [];
    await Promise.all(this.#unlisten.splice(0).map((unlisten) => unlisten().catch(() => {})));
    await closeReplicaSessions(this.#o.database.db, this.#o.replicaId, this.#now()).catch(() => {});
  }

  /** Whether the hub is draining: it takes no new sockets (readiness says so). */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Stops taking sockets (upgrades answer 503) and closes the ones held here with 1001, spread
   * over up to `drainSpreadMs`, so their agents reconnect to another replica a few at a time.
   * Resolves when they are all closed, or cuts the rest at `drainTimeoutMs`. Commands are not
   * lost: one in flight on a closed socket is sent again on the agent's next connection
   * (wherever it lands), and the agent answers a command it already ran from memory.
   */
  async drain(): Promise<void> {
    this.#accepting = false;
    this.#draining = true;
    const held = [...this.#connections.values()];
    const gap = held.length > 1 ? Math.min(20, this.#o.drainSpreadMs / (held.length - 1)) : 0;
    const deadline = new AbortController();
    const closed = held.map(async (connection, i) => {
      const gone = new Promise<void>((resolve) => connection.socket.once('close', () => resolve()));
      if (connection.socket.readyState === WebSocket.CLOSED) return;
      if (i > 0) await this.#o.clock.sleep(i * gap, deadline.signal).catch(() => {});
      connection.close(CLOSE_CODES.goingAway, 'controller draining; reconnect');
      await gone;
    });
    if (held.length > 0) this.#o.logger.info({ sockets: held.length, spreadMs: Math.round(gap * (held.length - 1)) }, 'draining: closing agent sockets');
    await Promise.race([Promise.all(closed), this.#o.clock.sleep(this.#o.drainTimeoutMs, deadline.signal).catch(() => {})]);
    deadline.abort();
    for (const c of this.#connections.values()) c.socket.terminate();
  }

  /**
   * Sends an MCP request to a tool instance through the environment's agent, if its socket
   * is held here; undefined when it is not (the gateway forwards to the replica that holds it).
   */
  callTool(environmentId: string, toolInstanceId: string, body: McpCallBody, options: CallOptions): Promise<McpReplyBody> | undefined {
    const connection = this.#greeted(environmentId);
    return connection ? this.tools.call(connection, toolInstanceId, body, options) : undefined;
  }

  /** Whether this replica holds a greeted socket of the environment's agent. */
  isConnected(environmentId: string): boolean {
    return this.#greeted(environmentId) !== undefined;
  }

  /** Rotates the environment's credential now, if its agent is connected here. */
  async rotateCredential(environmentId: string): Promise<boolean> {
    const connection = this.#greeted(environmentId);
    if (!connection) return false;
    await this.#rotate(connection);
    return true;
  }

  /** Writes buffered heartbeats now (tests, shutdown). */
  flushHeartbeats(): Promise<void> {
    return this.#heartbeats.flush();
  }

  stats(): HubStats {
    const hb = this.#heartbeats.stats;
    return {
      connections: this.#connections.size,
      accepted: this.#counts.accepted,
      refused: this.#counts.refused,
      pendingUpgrades: this.#counts.pending,
      peakConcurrentAuth: this.#auth.peak,
      heartbeatsReceived: hb.received,
      heartbeatRowsWritten: hb.written,
      heartbeatFlushes: hb.flushes,
      heartbeatFlushMsTotal: hb.flushMsTotal,
      heartbeatFlushMsMax: hb.flushMsMax,
      commandsSent: this.#commands.stats.sent,
      commandsTimedOut: this.#commands.stats.timedOut,
      violations: this.#ctx.stats.violations,
      inventoriesCoalesced: this.#ctx.stats.inventoriesCoalesced,
      backlogCloses: this.#ctx.stats.backlogCloses,
    };
  }

  #now(): Date {
    return new Date(this.#o.clock.now());
  }

  #greeted(environmentId: string): AgentConnection | undefined {
    const connection = this.#connections.get(environmentId);
    return connection?.open && connection.helloAt !== undefined ? connection : undefined;
  }

  #emit(event: AgentEvent): void {
    try {
      this.#o.onAgentEvent?.(event);
    } catch (error) {
      this.#o.logger.error({ err: error, event }, 'onAgentEvent threw; events must not throw');
    }
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    // The path as sent, never decoded or parsed as a URL: anything but the hub's exact path is not ours.
    if (pathOf(req.url ?? '') !== this.#o.path) return false;
    socket.on('error', () => {});
    const refuse = (message: string) => {
      this.#counts.refused += 1;
      writeRefusal(socket, { status: 503, code: 'HUB_UNAVAILABLE', message });
    };
    if (!this.#accepting) refuse('the controller is starting or stopping; reconnect after a backoff');
    else if (this.#connections.size + this.#counts.pending >= this.#o.maxConnections) {
      refuse('this controller replica holds as many agents as it may; reconnect after a backoff');
    } else {
      this.#counts.pending += 1;
      void this.#authorizeThenAccept(req, socket, head).finally(() => (this.#counts.pending -= 1));
    }
    return true;
  }

  async #authorizeThenAccept(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const decision = await this.#auth.run(() => authorizeUpgrade(this.#o.database.db, req, this.#now())).catch((error: unknown) => {
      this.#o.logger.error({ err: error }, 'authenticating an agent failed');
      return { ok: false as const, status: 503 as const, code: 'HUB_UNAVAILABLE', message: 'the controller could not check the credential; retry', reason: 'error' };
    });
    if (!decision.ok) {
      this.#counts.refused += 1;
      this.#o.logger.info({ status: decision.status, reason: decision.reason, remote: req.socket.remoteAddress }, 'agent connection refused');
      return writeRefusal(socket, decision);
    }
    if (socket.destroyed || !this.#accepting) {
      if (decision.enrolled) this.#o.logger.warn({ environmentId: decision.identity.environmentId }, 'agent left during enrollment; it can redeem its token again once the retry window has passed');
      return void socket.destroy();
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, decision.identity));
  }

  #accept(ws: WebSocket, identity: AgentIdentity): void {
    const connection = new AgentConnection(ws, identity, {
      clock: this.#o.clock,
      logger: this.#o.logger,
      limits: this.#o.receiveLimits,
      handle: (c, message) => handleMessage(this.#ctx, c, message),
      stats: this.#ctx.stats,
      intercept: (c, message) => {
        if (message.type !== 'mcp_reply') return false;
        this.tools.onReply(c, message);
        return true;
      },
    });
    const { environmentId } = identity;
    const previous = this.#connections.get(environmentId);
    this.#connections.set(environmentId, connection);
    previous?.close(CLOSE_CODES.replaced, 'replaced by a newer connection');
    this.#counts.accepted += 1;
    ws.on('error', (error) => this.#o.logger.debug({ err: error, environmentId }, 'agent socket error'));
    ws.on('close', () => this.#onClose(connection));
    connection.send({ type: 'welcome', environmentId, heartbeatIntervalMs: this.#o.heartbeatIntervalMs, serverTime: this.#now().toISOString() });
    if (identity.enrolledCredential !== undefined) {
      connection.send({ type: 'enrolled', environmentId, credentialId: identity.credentialId, credential: identity.enrolledCredential });
      identity.enrolledCredential = undefined;
    }
    this.#emit({ kind: 'connected', environmentId, agentId: identity.agentId });
    const recorded = recordAgentConnected(this.#o.database.db, {
      environmentId,
      replicaId: this.#o.replicaId,
      replicaUrl: this.#o.replicaUrl?.(),
      connectionId: connection.id,
      credentialId: identity.credentialId,
      at: this.#now(),
    }).catch((error: unknown) => this.#o.logger.warn({ err: error, environmentId }, 'recording the agent session failed'));
    connection.after(recorded);
  }

  #onClose(connection: AgentConnection): void {
    this.tools.onClosed(connection);
    const { environmentId } = connection;
    if (this.#connections.get(environmentId) !== connection) return;
    this.#connections.delete(environmentId);
    this.#emit({ kind: 'disconnected', environmentId, agentId: connection.identity.agentId });
    void recordAgentDisconnected(this.#o.database.db, { environmentId, connectionId: connection.id, at: this.#now() }).catch(
      (error: unknown) => this.#o.logger.debug({ err: error, environmentId }, 'recording a disconnect failed'),
    );
  }

  async #onCommandsQueued(environmentId: string): Promise<void> {
    const connection = this.#greeted(environmentId);
    if (connection) await this.#commands.deliver(connection, false);
  }

  #onRevoked(environmentId: string): void {
    const connection = this.#connections.get(environmentId);
    if (!connection) return;
    connection.sendError(AGENT_ERROR_CODES.revoked, 'this droplet was de-provisioned; its credential is revoked');
    connection.close(CLOSE_CODES.revoked, 'credential revoked');
    this.#emit({ kind: 'revoked', environmentId, agentId: connection.identity.agentId });
  }

  /** Another replica accepted this agent: close the socket held here unless it is the newest. */
  async #onSessionElsewhere(payload: string): Promise<void> {
    const [environmentId, replicaId, connectionId] = payload.split(' ');
    if (!environmentId || replicaId === this.#o.replicaId) return;
    const local = this.#connections.get(environmentId);
    if (!local || local.id === connectionId) return;
    const session = await getAgentSession(this.#o.database.db, environmentId);
    if (session && session.connection_id !== local.id) local.close(CLOSE_CODES.replaced, 'replaced by a connection to another replica');
  }

  #ping(): void {
    for (const connection of this.#connections.values()) {
      if (!connection.alive) {
        this.#o.logger.info({ environmentId: connection.environmentId }, 'agent did not answer a ping; closing its socket');
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
  }

  async #rotateDue(): Promise<void> {
    for (const connection of [...this.#connections.values()]) await this.#rotateIfDue(connection);
  }

  async #rotateIfDue(connection: AgentConnection): Promise<void> {
    const age = this.#o.clock.now() - connection.identity.credentialIssuedAt.getTime();
    if (connection.helloAt !== undefined && age >= this.#o.credentialRotateAfterMs) await this.#rotate(connection);
  }

  async #rotate(connection: AgentConnection): Promise<void> {
    const { identity } = connection;
    const issued = await rotateAgentCredential(this.#o.database.db, identity.environmentId, { current: identity.credentialId, now: this.#now() });
    // Not due again until the rotation age passes; the agent's ack finishes it.
    identity.credentialIssuedAt = this.#now();
    connection.send({ type: 'rotate_credential', credentialId: issued.credentialId, credential: issued.token });
  }

  async #every(signal: AbortSignal, ms: number, task: () => unknown): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#o.clock.sleep(ms, signal);
        await task();
      } catch (error) {
        if (!signal.aborted) this.#o.logger.warn({ err: error }, 'periodic hub task failed');
      }
    }
  }
}
