/**
 * A small protocol client over a real `ws` socket, standing in for a droplet agent: send
 * messages, await the next one of a type, wait until the hub has handled what was sent.
 */
import { type ControllerMessage, type ControllerMessageOf, encodeMessage, type AgentMessage, type WithoutVersion } from '@toolbelt/schema/protocol';
import { WebSocket } from 'ws';
import { track } from './leaks.ts';

/** The HTTP answer to an upgrade that was refused. */
export interface Refused {
  status: number;
  body: { error?: { code?: string; message?: string } };
}

/** Probes sent by `settled()` so far (each names itself). */
let probes = 0;

/** A protocol client over a real socket: send messages, await the next one of a type. */
export class TestAgent {
  readonly received: ControllerMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: { matches: (m: ControllerMessage) => boolean; resolve: (m: ControllerMessage) => void }[] = [];

  private constructor(readonly socket: WebSocket) {
    // Left open at the end of a test, it is terminated without failing it (the hub closes its side).
    const forget = track('an agent test socket', async () => socket.terminate(), { quiet: true });
    socket.once('close', forget);
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as ControllerMessage;
      this.received.push(message);
      const index = this.#waiters.findIndex((w) => w.matches(message));
      if (index >= 0) this.#waiters.splice(index, 1)[0]!.resolve(message);
    });
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  /** Connects; rejects with a `Refused` when the upgrade is answered without a socket. */
  static connect(url: string, token: string | undefined, options: { headers?: Record<string, string>; autoPong?: boolean } = {}): Promise<TestAgent> {
    const headers = { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...options.headers };
    const socket = new WebSocket(url, { headers, autoPong: options.autoPong ?? true });
    return new Promise((resolve, reject) => {
      const agent = new TestAgent(socket);
      socket.once('open', () => resolve(agent));
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => {
          socket.terminate();
          reject({ status: res.statusCode ?? 0, body: JSON.parse(body || '{}') } satisfies Refused);
        });
      });
      socket.once('error', (error) => reject(error));
    });
  }

  /**
   * Takes the oldest message of a type (and, given `where`, that passes it) not taken yet,
   * waiting for one if none came yet.
   */
  next<T extends ControllerMessage['type']>(type: T, where: (message: ControllerMessageOf<T>) => boolean = () => true): Promise<ControllerMessageOf<T>> {
    const matches = (m: ControllerMessage) => m.type === type && where(m as ControllerMessageOf<T>);
    const index = this.received.findIndex(matches);
    if (index >= 0) return Promise.resolve(this.received.splice(index, 1)[0] as ControllerMessageOf<T>);
    return new Promise((resolve) =>
      this.#waiters.push({
        matches,
        resolve: (m) => {
          this.received.splice(this.received.indexOf(m), 1);
          resolve(m as ControllerMessageOf<T>);
        },
      }),
    );
  }

  send(message: WithoutVersion<AgentMessage>): void {
    this.socket.send(encodeMessage(message as AgentMessage));
  }

  sendRaw(data: string | Buffer): void {
    this.socket.send(data);
  }

  /** Sends a minimal valid hello (the hub handles messages in order, so others may follow). */
  async hello(overrides: Partial<WithoutVersion<AgentMessageOf<'hello'>>> = {}): Promise<void> {
    this.send({
      type: 'hello',
      agentVersion: '0.1.0-test',
      protocolVersion: 1,
      droplet: { hostname: 'test-droplet' },
      runtimes: ['process'],
      inventory: [],
      startedAt: new Date().toISOString(),
      ...overrides,
    });
  }

  /**
   * Waits until the hub has handled everything sent so far: it handles an agent's messages in
   * order, so the answer to a probe sent now — an error naming that probe — comes after all
   * of theirs. Other error frames (a burst may cause its own) are left for the test to read.
   */
  async settled(): Promise<void> {
    probes += 1;
    const probe = `settled-probe-${probes}`;
    this.send({ type: 'credential_ack', credentialId: probe });
    await this.next('error', (m) => m.detail.includes(probe));
  }

  close(): void {
    this.socket.close(1000);
  }
}

type AgentMessageOf<T extends AgentMessage['type']> = Extract<AgentMessage, { type: T }>;

export const sampleMetrics = {
  cpuPercent: 3,
  memoryUsedBytes: 100,
  memoryTotalBytes: 1000,
  diskUsedBytes: 10,
  diskTotalBytes: 100,
  load1: 0.1,
  load5: 0.1,
  load15: 0.1,
  uptimeSeconds: 60,
};

/** A minimal tool status report. */
export function toolReport(toolInstanceId: string, state: 'running' | 'stopped' = 'running') {
  return { toolInstanceId, instanceName: 'x', generation: 1, runtime: 'process' as const, state, endpoints: [], health: { status: 'unknown' as const }, restarts: 0 };
}
