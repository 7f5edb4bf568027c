/**
 * The controller's HTTP server as a component. Other components attach to it: routes on
 * its router, WebSocket upgrades through `onUpgrade` (the agent hub uses `handleUpgrade`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Component } from '../component.ts';
import type { Logger } from '../logger.ts';
import { printable, type Router, sendError } from './router.ts';
import { readKeyPair, type TlsFiles, watchKeyPair } from './tls.ts';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

export interface HttpServerOptions {
  host: string;
  port: number;
  router: Router;
  logger: Logger;
  /** Built-in TLS: serve https/wss from these PEM files, reloaded when they change. */
  tls?: TlsFiles | undefined;
}

export class HttpServer implements Component {
  readonly name = 'http';
  readonly needsLeadership = false;
  readonly server: Server | TlsServer;
  readonly #options: HttpServerOptions;
  readonly #upgradeHandlers: UpgradeHandler[] = [];
  #unwatchTls: (() => void) | undefined;

  /** Throws a ToolbeltError when the TLS files cannot be read or do not make a pair. */
  constructor(options: HttpServerOptions) {
    this.#options = options;
    const handle = (req: IncomingMessage, res: ServerResponse) => void this.#handle(req, res);
    this.server = options.tls ? createTlsServer(readKeyPair(options.tls), handle) : createServer(handle);
    this.server.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
  }

  /** Registers a handler for WebSocket upgrades; it returns true when it took the request. */
  onUpgrade(handler: UpgradeHandler): void {
    this.#upgradeHandlers.push(handler);
  }

  /** The base URL it serves, once started. */
  get url(): string {
    const address = this.server.address() as AddressInfo | null;
    if (!address) throw new Error('the HTTP server is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${this.#options.tls ? 'https' : 'http'}://${host}:${address.port}`;
  }

  async start(): Promise<void> {
    const { host, port } = this.#options;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const { tls } = this.#options;
        if (tls) {
          this.#unwatchTls = watchKeyPair(tls, this.#options.logger, (pair) => (this.server as TlsServer).setSecureContext(pair));
        }
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    this.#unwatchTls?.();
    this.#unwatchTls = undefined;
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => this.server.closeAllConnections(), 5_000);
    await closed;
    clearTimeout(timer);
  }

  /**
   * WARNING: once Node hands over an upgrade's socket it no longer listens for its errors,
   * and an upgrade handler that throws would be an uncaught exception: both are caught here.
   */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (error) => this.#options.logger.debug({ err: error }, 'upgrade socket error'));
    try {
      for (const handler of this.#upgradeHandlers) if (handler(req, socket, head)) return;
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    } catch (error) {
      this.#options.logger.warn({ err: error, path: printable(req.url ?? '') }, 'upgrade request refused: its handler threw');
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  }

  /** Every request ends here with an answer: a route's, a refusal (4xx), or a 500 and one log line. */
  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let path = printable(req.url ?? '');
    try {
      const match = this.#options.router.match(req.method ?? 'GET', req.url ?? '/');
      if ('handler' in match) {
        path = printable(match.path);
        await match.handler({ req, res, params: match.params, query: match.query, path: match.path });
      } else {
        if (match.allow) res.setHeader('allow', match.allow.join(', '));
        sendError(res, match.status, { code: match.code, message: match.message });
      }
    } catch (error) {
      if (clientGone(req, error)) {
        // The peer hung up while its body was read: nothing failed here, and no one to answer.
        this.#options.logger.debug({ method: req.method, path }, 'client closed the connection mid-request');
        return void res.destroy();
      }
      this.#options.logger.error({ err: error, method: req.method, path }, 'request failed');
      if (!res.headersSent) sendError(res, 500, { code: 'INTERNAL', message: 'internal error; see the controller log' });
      else res.destroy();
    } finally {
      const ms = Math.round((performance.now() - started) * 10) / 10;
      this.#options.logger.debug({ method: req.method, path, status: res.statusCode, ms }, 'request');
    }
  }
}

/** Whether a request failed only because its client went away (`aborted` while reading its body). */
function clientGone(req: IncomingMessage, error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return (code === 'ECONNRESET' || code === 'ECONNABORTED') && (req.destroyed || req.socket.destroyed);
}
