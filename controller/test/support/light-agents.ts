/**
 * Many light agents in one process, for load tests and benchmarks: each is a real `ws`
 * client that speaks the protocol (hello, heartbeats, credential_ack, command answers) and
 * reconnects like the real agent — exponential backoff with full jitter — but runs no tools.
 *
 * Run as a child with an IPC channel (`fork`, `--import tsx`). The parent sends
 * `{ type: 'start', ... }` and `{ type: 'report' }`, and gets `{ type: 'report', ... }` back.
 */
import { WebSocket } from 'ws';

export interface LightAgentsStart {
  type: 'start';
  url: string;
  /** One bearer token (credential or enrollment token) per agent. */
  tokens: string[];
  heartbeatMs: number;
  /** The droplet agent's defaults: 1 s doubling to 60 s; a session of ≥ 10 s resets it. */
  reconnect: { initialMs: number; maxMs: number; stableAfterMs?: number };
  /** Spread the first connects over this long (default: all at once). */
  rampMs?: number;
}

export interface LightAgentsReport {
  type: 'report';
  agents: number;
  open: number;
  /** Agents that got a welcome at least once. */
  everWelcomed: number;
  /** Welcomes received in total (first connects and reconnects). */
  welcomes: number;
  /** Agents whose current connection got its welcome after the last `mark`. */
  welcomedSinceMark: number;
  refused: number;
  stopped: number;
  heartbeats: number;
  commandsAnswered: number;
  rssBytes: number;
  /** When agents dialled since the last `mark`, in ms after it. */
  dialsSinceMark: number[];
}

const METRICS = {
  cpuPercent: 1,
  memoryUsedBytes: 1e8,
  memoryTotalBytes: 1e9,
  diskUsedBytes: 1e9,
  diskTotalBytes: 1e10,
  load1: 0.01,
  load5: 0.01,
  load15: 0.01,
  uptimeSeconds: 100,
};

const counts = { welcomes: 0, refused: 0, heartbeats: 0, commandsAnswered: 0 };
let markGeneration = 0;
let markedAt = Date.now();
let dialsSinceMark: number[] = [];

class LightAgent {
  #ws: WebSocket | undefined;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #seq = 0;
  welcomedAt: number | undefined;
  welcomedGeneration = -1;
  everWelcomed = false;
  stopped = false;

  constructor(
    private token: string,
    private readonly options: LightAgentsStart,
  ) {}

  get open(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  connect(): void {
    const ws = new WebSocket(this.options.url, {
      headers: { authorization: `Bearer ${this.token}`, 'x-toolbelt-protocol': '1' },
      perMessageDeflate: false,
    });
    this.#ws = ws;
    ws.on('open', () => this.#send({ type: 'hello', agentVersion: 'light-1', protocolVersion: 1, droplet: { hostname: 'light' }, runtimes: ['process'], inventory: [], startedAt: new Date().toISOString() }));
    ws.on('message', (data) => this.#receive(String(data)));
    ws.on('unexpected-response', (_req, res) => {
      counts.refused += 1;
      if (res.statusCode === 403) this.stopped = true;
      res.resume();
      ws.terminate();
    });
    ws.on('error', () => {});
    ws.on('close', (code) => this.#closed(code));
  }

  #send(message: Record<string, unknown>): void {
    if (this.open) this.#ws!.send(JSON.stringify({ ...message, v: 1 }));
  }

  #receive(text: string): void {
    const message = JSON.parse(text) as { type: string; credential?: string; credentialId?: string; commandId?: string };
    if (message.type === 'welcome') {
      counts.welcomes += 1;
      this.everWelcomed = true;
      this.welcomedAt = Date.now();
      this.welcomedGeneration = markGeneration;
      this.#startHeartbeats();
    } else if (message.type === 'enrolled' || message.type === 'rotate_credential') {
      this.token = message.credential!;
      this.#send({ type: 'credential_ack', credentialId: message.credentialId });
    } else if (message.type === 'command') {
      this.#send({ type: 'command_result', commandId: message.commandId, status: 'accepted' });
      this.#send({ type: 'command_result', commandId: message.commandId, status: 'done' });
      counts.commandsAnswered += 1;
    }
  }

  #startHeartbeats(): void {
    clearTimeout(this.#timer);
    const beat = () => {
      this.#seq += 1;
      counts.heartbeats += 1;
      this.#send({ type: 'heartbeat', agentVersion: 'light-1', seq: this.#seq, metrics: METRICS, toolCount: 0 });
      this.#timer = setTimeout(beat, this.options.heartbeatMs);
    };
    // Phase-spread, as real agents booted at different times are.
    this.#timer = setTimeout(beat, Math.random() * this.options.heartbeatMs);
  }

  #closed(code: number): void {
    clearTimeout(this.#timer);
    if (code === 4004) this.stopped = true;
    if (this.stopped) return;
    const { initialMs, maxMs, stableAfterMs = 10_000 } = this.options.reconnect;
    // The droplet agent's policy (droplet-agent/src/backoff.ts, connection.ts): a session of
    // stableAfterMs resets the attempt count; the delay is spread evenly over
    // [initial/2, min(max, initial·2^n)).
    const stable = this.welcomedAt !== undefined && Date.now() - this.welcomedAt >= stableAfterMs;
    this.#attempt = stable ? 0 : this.#attempt + 1;
    this.welcomedAt = undefined;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(this.#attempt, 30));
    const floor = Math.min(initialMs / 2, ceiling);
    const delay = floor + Math.floor(Math.random() * (ceiling - floor));
    // The time each redial is planned for: on a loaded machine timers fire late and bunch
    // up, which says nothing about whether the clients spread their reconnects.
    dialsSinceMark.push(Date.now() + delay - markedAt);
    this.#timer = setTimeout(() => this.connect(), delay);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.#timer);
    this.#ws?.terminate();
  }
}

let agents: LightAgent[] = [];

function report(): LightAgentsReport {
  return {
    type: 'report',
    agents: agents.length,
    open: agents.filter((a) => a.open).length,
    everWelcomed: agents.filter((a) => a.everWelcomed).length,
    welcomedSinceMark: agents.filter((a) => a.open && a.welcomedGeneration === markGeneration).length,
    welcomes: counts.welcomes,
    refused: counts.refused,
    stopped: agents.filter((a) => a.stopped).length,
    heartbeats: counts.heartbeats,
    commandsAnswered: counts.commandsAnswered,
    rssBytes: process.memoryUsage().rss,
    dialsSinceMark,
  };
}

process.on('message', (message: LightAgentsStart | { type: 'report' } | { type: 'mark' } | { type: 'stop' }) => {
  if (message.type === 'start') {
    agents = message.tokens.map((token) => new LightAgent(token, message));
    agents.forEach((agent) => setTimeout(() => agent.connect(), Math.random() * (message.rampMs ?? 0)));
    process.send!({ type: 'started' });
  } else if (message.type === 'mark') {
    markGeneration += 1;
    markedAt = Date.now();
    dialsSinceMark = [];
    process.send!({ type: 'marked' });
  } else if (message.type === 'report') {
    process.send!(report());
  } else if (message.type === 'stop') {
    agents.forEach((agent) => agent.stop());
    process.send!({ type: 'stopped' }, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
