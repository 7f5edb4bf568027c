/**
 * A thin controller stand-in for the agent's tests: a real `ws` WebSocketServer on
 * 127.0.0.1:0 at /agent/v1 that speaks the protocol from the controller's side. It accepts
 * the enrollment token once (answering `enrolled` with a fresh credential) and issued
 * credentials after that, answers 401 to anything else, validates every frame with
 * `parseAgentMessage`, answers secret requests from a table, and records everything.
 *
 *   const peer = await startTestPeer({ secrets: { tool1: { API_KEY: 'v' } } });
 *   // agent config: { controllerUrl: peer.url, enrollmentToken: peer.enrollmentToken }
 *   const hello = await peer.waitFor('hello');
 *   const result = await peer.command({ commandType: 'start', toolInstanceId: 'tool1', generation: 1, payload: {} });
 *   await peer.close();
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  AGENT_WS_PATH,
  type AgentMessage,
  type AgentMessageOf,
  type AgentMessageType,
  encodeMessage,
  MAX_FRAME_BYTES,
  type OutgoingControllerMessage,
  parseAgentMessage,
} from '@toolbelt/schema/protocol';
import { WebSocket, WebSocketServer } from 'ws';

type Command = Extract<OutgoingControllerMessage, { type: 'command' }>;
/** A command as a test writes it: the peer adds `type` and, unless given, a fresh `commandId`. */
export type CommandInput = WithoutIds<Command>;
type WithoutIds<C> = C extends unknown ? Omit<C, 'type' | 'commandId'> & { commandId?: string } : never;

export interface TestPeerOptions {
  enrollmentToken?: string;
  /** toolInstanceId → name → value, for secret_request. */
  secrets?: Record<string, Record<string, string>>;
  /** Sends `welcome` with this heartbeat interval after each accepted upgrade. */
  heartbeatIntervalMs?: number;
  /** Extra bytes the server accepts per frame (to let oversize frames from the agent through). */
  maxPayload?: number;
}

export interface TestPeer {
  readonly url: string;
  readonly enrollmentToken: string;
  readonly messages: AgentMessage[];
  /** Frames that failed validation: code and detail. */
  readonly invalid: { code: string; detail: string }[];
  readonly closes: { code: number; reason: string }[];
  /** Bearers presented at the upgrade, in order, with the outcome. */
  readonly upgrades: { bearer: string | undefined; accepted: boolean }[];
  readonly credentials: Set<string>;
  /** The current number of messages: pass to waitFor to wait only for later ones. */
  mark(): number;
  waitFor<T extends AgentMessageType>(
    type: T,
    predicate?: (m: AgentMessageOf<T>) => boolean,
    since?: number,
    timeoutMs?: number,
  ): Promise<AgentMessageOf<T>>;
  waitForConnection(count: number, timeoutMs?: number): Promise<void>;
  send(message: OutgoingControllerMessage): void;
  sendRaw(data: string | Buffer): void;
  /** Sends a command and resolves with its final (done/failed) result. */
  command(command: CommandInput, timeoutMs?: number): Promise<AgentMessageOf<'command_result'>>;
  /** Closes the agent's current socket with `code`. */
  disconnect(code: number, reason?: string): void;
  revokeAll(): void;
  readonly connected: boolean;
  close(): Promise<void>;
}

function bearerOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
}

export async function startTestPeer(options: TestPeerOptions = {}): Promise<TestPeer> {
  const enrollmentToken = options.enrollmentToken ?? `enroll-${randomBytes(16).toString('hex')}`;
  let enrollmentUsed = false;
  const credentials = new Set<string>();
  const messages: AgentMessage[] = [];
  const invalid: { code: string; detail: string }[] = [];
  const closes: { code: number; reason: string }[] = [];
  const upgrades: { bearer: string | undefined; accepted: boolean }[] = [];
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((l) => l());
  let current: WebSocket | undefined;
  let connections = 0;

  const server = createServer((_req, res) => res.writeHead(404).end());
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload ?? MAX_FRAME_BYTES });

  server.on('upgrade', (request, socket, head) => {
    const bearer = bearerOf(request);
    const enrolling = bearer === enrollmentToken && !enrollmentUsed;
    const accepted = new URL(request.url ?? '/', 'http://x').pathname === AGENT_WS_PATH && (enrolling || (bearer !== undefined && credentials.has(bearer)));
    upgrades.push({ bearer, accepted });
    if (!accepted) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      notify();
      return;
    }
    if (enrolling) enrollmentUsed = true;
    wss.handleUpgrade(request, socket, head, (ws) => onSocket(ws, enrolling));
  });

  const send = (message: OutgoingControllerMessage) => current?.send(encodeMessage(message));

  function onSocket(ws: WebSocket, enrolling: boolean) {
    current?.terminate();
    current = ws;
    connections += 1;
    ws.on('message', (data: Buffer) => {
      const parsed = parseAgentMessage(data);
      if (!parsed.ok) invalid.push({ code: parsed.code, detail: parsed.detail });
      else onMessage(parsed.message);
      notify();
    });
    ws.on('close', (code, reason) => {
      closes.push({ code, reason: reason.toString() });
      if (current === ws) current = undefined;
      notify();
    });
    if (options.heartbeatIntervalMs) {
      send({ type: 'welcome', environmentId: 'env-1', heartbeatIntervalMs: options.heartbeatIntervalMs, serverTime: new Date().toISOString() });
    }
    if (enrolling) {
      const credential = randomBytes(24).toString('hex');
      credentials.add(credential);
      send({ type: 'enrolled', environmentId: 'env-1', credentialId: randomUUID(), credential });
    }
    notify();
  }

  function onMessage(message: AgentMessage) {
    messages.push(message);
    if (message.type !== 'secret_request') return;
    const table = options.secrets?.[message.toolInstanceId] ?? {};
    const missing = message.names.filter((n) => !(n in table));
    send(
      missing.length > 0
        ? { type: 'secret_response', requestId: message.requestId, toolInstanceId: message.toolInstanceId, error: { code: 'AGENT_ERR_SECRET_UNAVAILABLE', reason: `no ${missing.join(', ')}` } }
        : { type: 'secret_response', requestId: message.requestId, toolInstanceId: message.toolInstanceId, values: table },
    );
  }

  function until<T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const listener = () => {
        const value = check();
        if (value === undefined) return;
        cleanup();
        resolve(value);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`test peer: timed out waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      listeners.add(listener);
      listener();
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `ws://127.0.0.1:${port}${AGENT_WS_PATH}`,
    enrollmentToken,
    messages,
    invalid,
    closes,
    upgrades,
    credentials,
    get connected() {
      return current?.readyState === WebSocket.OPEN;
    },
    mark: () => messages.length,
    waitFor(type, predicate, since = 0, timeoutMs = 30_000) {
      return until(
        () => messages.slice(since).find((m) => m.type === type && (!predicate || predicate(m as never))) as never,
        `a ${type} message`,
        timeoutMs,
      );
    },
    waitForConnection: (count, timeoutMs = 30_000) => until(() => (connections >= count ? true : undefined), `${count} connections`, timeoutMs).then(() => {}),
    send,
    sendRaw: (data) => current?.send(data),
    async command(command, timeoutMs = 120_000) {
      const commandId = command.commandId ?? randomUUID();
      const since = messages.length;
      send({ ...command, type: 'command', commandId } as OutgoingControllerMessage);
      return until(
        () =>
          messages
            .slice(since)
            .find((m): m is AgentMessageOf<'command_result'> => m.type === 'command_result' && m.commandId === commandId && (m.status === 'done' || m.status === 'failed')),
        `the result of command ${commandId}`,
        timeoutMs,
      );
    },
    disconnect: (code, reason = '') => current?.close(code, reason),
    revokeAll: () => credentials.clear(),
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
