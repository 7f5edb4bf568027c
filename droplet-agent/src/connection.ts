/**
 * The agent's outbound WebSocket to the controller: dial with a bearer credential, validate
 * every frame received (bounded size, rate, and invalid-frame budget), and reconnect with
 * exponential backoff and jitter. A `revoked` close (4004) ends reconnecting for good.
 */
import type { Clock } from '@toolbelt/schema/clock';
import {
  AGENT_ERROR_CODES,
  AGENT_VERSION_HEADER,
  DROPLET_NAME_HEADER,
  CLOSE_CODES,
  closeCodeFor,
  type ControllerMessage,
  encodeMessage,
  MAX_FRAME_BYTES,
  parseControllerMessage,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_HEADER,
  RECEIVE_LIMITS,
  TokenBucket,
  type OutgoingAgentMessage,
} from '@toolbelt/schema/protocol';
import WebSocket from 'ws';
import { backoffDelay } from './backoff.ts';
import type { Logger } from './log.ts';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'waiting' | 'revoked' | 'stopped';

export interface ConnectionOptions {
  url: string;
  /** A private CA (PEM) the controller's certificate must chain to; default: the system's CAs. */
  ca?: string | undefined;
  clock: Clock;
  reconnect: { initialDelayMs: number; maxDelayMs: number };
  agentVersion: string;
  /** The bearer for the next dial (the stored credential, else the enrollment token). */
  bearer: () => Promise<string | undefined>;
  /** The droplet's name, sent at the upgrade so that a batch enrollment token enrolls the right one. */
  dropletName?: () => Promise<string | undefined>;
  /** Called once a socket is open (send hello here). */
  onOpen: () => void | Promise<void>;
  onMessage: (message: ControllerMessage) => void;
  onClose?: (code: number, reason: string) => void;
  log: Logger;
  random?: () => number;
  /** A session shorter than this does not reset the backoff. */
  stableAfterMs?: number;
}

interface SessionEnd {
  code: number;
  reason: string;
  openedAt: number | undefined;
}

export class Connection {
  readonly #o: ConnectionOptions;
  #socket: WebSocket | undefined;
  #state: ConnectionState = 'idle';
  #abort = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(options: ConnectionOptions) {
    this.#o = options;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Starts dialling in the background. */
  start(): void {
    this.#loop ??= this.#run().catch((error: Error) => this.#o.log.error('connection loop failed', { error: error.message }));
  }

  /** Sends a message; false when there is no open socket (the caller decides to drop or retry). */
  send(message: OutgoingAgentMessage): boolean {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(encodeMessage(message));
    return true;
  }

  /** Closes the socket (1000) and stops reconnecting. */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#socket?.close(CLOSE_CODES.normal, 'agent shutting down');
    await this.#loop;
    this.#state = 'stopped';
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let attempt = 0;
    while (!signal.aborted) {
      const bearer = await this.#o.bearer();
      const dropletName = await this.#o.dropletName?.();
      let end: SessionEnd;
      if (bearer) {
        end = await this.#session(bearer, dropletName);
      } else {
        this.#o.log.error('no credential and no enrollment token: cannot connect', {
          hint: 'put enrollmentToken into the agent config, or restore credential.json in the state dir',
        });
        end = { code: CLOSE_CODES.unauthorized, reason: 'no credential', openedAt: undefined };
      }
      if (signal.aborted) break;
      this.#o.onClose?.(end.code, end.reason);
      if (end.code === CLOSE_CODES.revoked) {
        this.#state = 'revoked';
        this.#o.log.error('the controller revoked this droplet; no longer reconnecting', { reason: end.reason });
        return;
      }
      const stable = end.openedAt !== undefined && this.#o.clock.now() - end.openedAt >= (this.#o.stableAfterMs ?? 10_000);
      attempt = stable ? 0 : attempt + 1;
      const delay = backoffDelay(attempt, { ...this.#o.reconnect, ...(this.#o.random ? { random: this.#o.random } : {}) });
      this.#state = 'waiting';
      this.#o.log.warn('disconnected; reconnecting', { code: end.code, reason: end.reason, delayMs: delay, attempt });
      await this.#o.clock.sleep(delay, signal).catch(() => {});
    }
  }

  #session(bearer: string, dropletName: string | undefined): Promise<SessionEnd> {
    this.#state = 'connecting';
    return new Promise((resolve) => {
      const socket = new WebSocket(this.#o.url, {
        headers: {
          authorization: `Bearer ${bearer}`,
          [PROTOCOL_VERSION_HEADER]: String(PROTOCOL_VERSION),
          [AGENT_VERSION_HEADER]: this.#o.agentVersion,
          ...(dropletName ? { [DROPLET_NAME_HEADER]: dropletName } : {}),
        },
        maxPayload: MAX_FRAME_BYTES,
        handshakeTimeout: 15_000,
        ...(this.#o.ca ? { ca: this.#o.ca } : {}),
        perMessageDeflate: false,
      });
      this.#socket = socket;
      let openedAt: number | undefined;
      let httpStatus: number | undefined;
      const bucket = new TokenBucket({ perSecond: RECEIVE_LIMITS.messagesPerSecond, burst: RECEIVE_LIMITS.burst, clock: this.#o.clock });
      const invalid = { count: 0 };
      socket.on('open', () => {
        openedAt = this.#o.clock.now();
        this.#state = 'open';
        void Promise.resolve(this.#o.onOpen()).catch((error: Error) =>
          this.#o.log.error('could not greet the controller', { error: error.message }),
        );
      });
      socket.on('message', (data: WebSocket.RawData) => this.#receive(socket, data, bucket, invalid));
      socket.on('error', (error) => {
        const status = /Unexpected server response: (\d+)/.exec(error.message)?.[1];
        if (status) httpStatus = Number(status);
        this.#o.log.warn('socket error', { error: error.message });
      });
      socket.on('close', (code, reason) => {
        if (this.#socket === socket) this.#socket = undefined;
        const mapped = httpStatus === 401 ? CLOSE_CODES.unauthorized : httpStatus === 403 ? CLOSE_CODES.revoked : code;
        resolve({ code: mapped, reason: reason.toString() || (httpStatus ? `HTTP ${httpStatus}` : ''), openedAt });
      });
    });
  }

  #receive(socket: WebSocket, data: WebSocket.RawData, bucket: TokenBucket, invalid: { count: number }): void {
    if (!bucket.take()) {
      this.#reply(socket, AGENT_ERROR_CODES.rateLimited, 'too many messages');
      socket.close(CLOSE_CODES.rateLimited, 'rate limited');
      return;
    }
    const parsed = parseControllerMessage(data as Buffer | Buffer[]);
    if (parsed.ok) {
      try {
        this.#o.onMessage(parsed.message);
      } catch (error) {
        this.#o.log.error('handling a message failed', { type: parsed.message.type, error: (error as Error).message });
      }
      return;
    }
    invalid.count += 1;
    this.#o.log.warn('invalid message from the controller', { code: parsed.code, detail: parsed.detail });
    this.#reply(socket, parsed.code, parsed.detail);
    const close = closeCodeFor(parsed.code) ?? (invalid.count > RECEIVE_LIMITS.maxInvalidFrames ? CLOSE_CODES.protocolError : undefined);
    if (close !== undefined) socket.close(close, parsed.code);
  }

  #reply(socket: WebSocket, code: string, detail: string): void {
    if (socket.readyState !== WebSocket.OPEN) return;
    socket.send(encodeMessage({ type: 'error', code, detail: detail.slice(0, 4096) }));
  }
}
