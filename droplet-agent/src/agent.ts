/**
 * The droplet agent as one component: `start()` rediscovers the tools, dials the controller
 * and keeps heartbeating; `stop()` closes the socket and stops supervising — the tools keep
 * running, and the next agent adopts them.
 */
import { mkdir } from 'node:fs/promises';
import { type Clock, systemClock } from '@toolbelt/schema/clock';
import {
  type ControllerMessage,
  type ControllerMessageOf,
  type OutgoingAgentMessage,
  PROTOCOL_VERSION,
  type ToolStatusReport,
} from '@toolbelt/schema/protocol';
import { CommandHandler } from './commands.ts';
import type { AgentConfig } from './config.ts';
import { Connection } from './connection.ts';
import { readCredential, writeCredential } from './credentials.ts';
import { ToolCalls } from './gateway/calls.ts';
import { McpSessions } from './gateway/sessions.ts';
import { HealthMonitor } from './health/monitor.ts';
import { readDropletIdentity } from './identity.ts';
import { createLogger, type Logger } from './log.ts';
import { HostMetricsSampler } from './metrics.ts';
import { createRuntimes } from './runtimes/create.ts';
import type { RestartPolicy } from './runtimes/process/supervisor.ts';
import type { Runtime } from './runtimes/types.ts';
import { SecretMask } from './masking.ts';
import { SecretBroker } from './secrets.ts';
import { ToolManager } from './tool-manager.ts';
import { confirmUpdate } from './update-trial.ts';
import { Updater } from './updater.ts';

export interface AgentOptions {
  config: AgentConfig;
  agentVersion: string;
  clock?: Clock;
  log?: Logger;
  restart?: Partial<RestartPolicy>;
  /** Called when the agent should exit so its supervisor (systemd) restarts it (self-update). */
  onRestartRequested?: () => void;
  random?: () => number;
}

export class Agent {
  readonly #o: AgentOptions & { clock: Clock; log: Logger };
  readonly #abort = new AbortController();
  readonly #metrics = new HostMetricsSampler();
  readonly #startedAt = new Date().toISOString();
  #runtimes: Runtime[] = [];
  #manager!: ToolManager;
  #commands!: CommandHandler;
  #secrets!: SecretBroker;
  #sessions!: McpSessions;
  #calls!: ToolCalls;
  #connection!: Connection;
  #heartbeatMs: number;
  /** Aborted to cut the heartbeat loop's sleep short (a `welcome` wants one now). */
  #wake = new AbortController();
  /** This connection's `hello` went out: heartbeats may follow. */
  #helloSent = false;
  #seq = 0;
  #environmentId: string | undefined;
  #tasks: Promise<void>[] = [];

  constructor(options: AgentOptions) {
    this.#o = { clock: systemClock, log: createLogger(), ...options };
    this.#heartbeatMs = options.config.heartbeatIntervalMs;
  }

  /** Rediscovers tools, then connects. Resolves once the tools are known. */
  async start(): Promise<void> {
    const { config, clock, log } = this.#o;
    await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
    this.#environmentId = (await readCredential(config.stateDir))?.environmentId;
    const send = (message: OutgoingAgentMessage) => this.#connection.send(message);
    const mask = new SecretMask();
    this.#secrets = new SecretBroker({ send, clock, onValues: (id, values) => mask.remember(id, values) });
    const fetchSecrets = (id: string, names: string[]) => this.#secrets.request(id, names);
    this.#runtimes = await createRuntimes({
      config,
      clock,
      log,
      fetchSecrets,
      onChange: (id) => this.#manager.onRuntimeChange(id),
      ...(this.#o.restart ? { restart: this.#o.restart } : {}),
    });
    this.#manager = new ToolManager({ runtimes: this.#runtimes, fetchSecrets, mask, clock, log, emit: (tool) => this.#emit(tool) });
    await this.#manager.discover();
    log.info('tools rediscovered', { count: this.#manager.size, runtimes: this.#runtimes.map((r) => r.kind) });
    const updater = new Updater({ config, log, currentVersion: this.#o.agentVersion, onRestart: () => this.#restartSoon() });
    this.#commands = new CommandHandler({ manager: this.#manager, send, log, mask: (text) => mask.text(text), update: (c, p) => updater.apply(c, p) });
    this.#connection = this.#createConnection();
    this.#sessions = new McpSessions({ agentVersion: this.#o.agentVersion });
    this.#calls = new ToolCalls({ manager: this.#manager, sessions: this.#sessions, send, log });
    const monitor = new HealthMonitor({ manager: this.#manager, clock, agentVersion: this.#o.agentVersion, sessions: this.#sessions });
    this.#tasks.push(monitor.run(this.#abort.signal), this.#heartbeats());
    this.#connection.start();
  }

  /** The connection's state (for tests and the status line). */
  get connectionState(): string {
    return this.#connection?.state ?? 'idle';
  }

  /** Closes the socket and stops supervising; the tools keep running. */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#wake.abort();
    this.#commands?.close();
    this.#secrets?.close();
    this.#calls?.close();
    this.#sessions?.closeAll();
    await this.#connection?.stop();
    await Promise.all(this.#tasks);
    for (const runtime of this.#runtimes) await runtime.close();
  }

  #createConnection(): Connection {
    const { config } = this.#o;
    return new Connection({
      url: config.controllerUrl,
      ca: config.controllerCa,
      clock: this.#o.clock,
      reconnect: config.reconnect,
      agentVersion: this.#o.agentVersion,
      log: this.#o.log,
      ...(this.#o.random ? { random: this.#o.random } : {}),
      bearer: async () => (await readCredential(config.stateDir))?.credential ?? config.enrollmentToken,
      dropletName: async () =>
        (await readDropletIdentity({ instanceIdFile: config.instanceIdFile, hostnameFile: config.hostnameFile, environmentId: undefined }))
          .hostname,
      onOpen: () => this.#hello(),
      onMessage: (message) => this.#onMessage(message),
    });
  }

  async #hello(): Promise<void> {
    // Synchronously on open, before this connection's first message can arrive.
    this.#helloSent = false;
    await this.#manager.discover();
    const inventory = await this.#manager.inventory();
    const droplet = await readDropletIdentity({
      instanceIdFile: this.#o.config.instanceIdFile,
      hostnameFile: this.#o.config.hostnameFile,
      environmentId: this.#environmentId,
    });
    this.#seq = 0;
    this.#connection.send({
      type: 'hello',
      agentVersion: this.#o.agentVersion,
      protocolVersion: PROTOCOL_VERSION,
      droplet,
      runtimes: this.#runtimes.map((r) => r.kind),
      inventory,
      startedAt: this.#startedAt,
    });
    this.#helloSent = true;
    this.#wake.abort();
    this.#secrets.onConnected();
    // Said hello on an accepted connection: a self-update to this version has passed its trial.
    await confirmUpdate(this.#o.config.installDir, this.#o.agentVersion).then(
      (confirmed) => confirmed && this.#o.log.info('update confirmed', { version: this.#o.agentVersion }),
      (error: unknown) => this.#o.log.warn('could not end the update trial', { error: (error as Error).message }),
    );
  }

  #onMessage(message: ControllerMessage): void {
    switch (message.type) {
      case 'command':
        return this.#commands.handle(message);
      case 'secret_response':
        return this.#secrets.onResponse(message);
      case 'mcp_call':
        return this.#calls.onCall(message);
      case 'mcp_cancel':
        return this.#calls.onCancel(message);
      case 'enrolled':
      case 'rotate_credential':
        return void this.#storeCredential(message);
      case 'welcome':
        // The controller's interval applies from now on, and the first heartbeat goes out
        // right away: its silence grace starts counting at hello, not a whole interval later.
        this.#heartbeatMs = message.heartbeatIntervalMs;
        this.#environmentId = message.environmentId;
        this.#wake.abort();
        return;
      case 'request_inventory':
        return void this.#manager.inventory().then((inventory) =>
          this.#connection.send({ type: 'inventory', inventory, ...(message.requestId ? { requestId: message.requestId } : {}) }),
        );
      case 'error':
        this.#o.log.warn('the controller reported an error', { code: message.code, detail: message.detail });
    }
  }

  async #storeCredential(message: ControllerMessageOf<'enrolled'> | ControllerMessageOf<'rotate_credential'>): Promise<void> {
    const environmentId = message.type === 'enrolled' ? message.environmentId : this.#environmentId;
    if (environmentId) this.#environmentId = environmentId;
    await writeCredential(this.#o.config.stateDir, {
      credentialId: message.credentialId,
      credential: message.credential,
      ...(environmentId ? { environmentId } : {}),
      storedAt: new Date(this.#o.clock.now()).toISOString(),
    });
    this.#o.log.info(message.type === 'enrolled' ? 'enrolled; credential stored' : 'credential rotated', {
      credentialId: message.credentialId,
    });
    this.#connection.send({ type: 'credential_ack', credentialId: message.credentialId });
  }

  #emit(tool: ToolStatusReport): void {
    this.#connection?.send({ type: 'tool_status', tool });
  }

  /**
   * Sends a heartbeat whenever this connection's hello went out, then sleeps the current
   * interval (read after the beat, so `welcome`'s interval is the one slept). The hello and
   * the `welcome` each wake it: the first heartbeat follows the hello at once.
   */
  async #heartbeats(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      // Renewed before the beat: a `welcome` during the beat still cuts the next sleep short.
      if (this.#wake.signal.aborted) this.#wake = new AbortController();
      if (this.#helloSent && this.#connection.state === 'open') await this.#heartbeat();
      await this.#o.clock.sleep(this.#heartbeatMs, this.#wake.signal).catch(() => {});
    }
  }

  async #heartbeat(): Promise<void> {
    try {
      const metrics = await this.#metrics.sample();
      this.#seq += 1;
      this.#connection.send({ type: 'heartbeat', agentVersion: this.#o.agentVersion, seq: this.#seq, metrics, toolCount: this.#manager.size });
    } catch (error) {
      this.#o.log.warn('could not sample host metrics', { error: (error as Error).message });
    }
  }

  #restartSoon(): void {
    // After the result of update_agent went out: let the socket flush, then ask to exit.
    void this.#o.clock.sleep(200).then(() => this.#o.onRestartRequested?.());
  }
}
