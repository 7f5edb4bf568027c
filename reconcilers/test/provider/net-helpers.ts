/**
 * Test helpers over real sockets: a recording proxy, and a leak check for TCP handles.
 *
 * A real HTTP proxy on 127.0.0.1 between the provider and the simulator that records each
 * request (method, path, parsed body, clock time) and forwards it byte for byte. It lets a
 * test look at exactly what went over the wire — bodies for the OpenAPI check, send times
 * for the pacing check — without touching the provider or mocking anything.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '@toolbelt/schema';

export interface RecordedRequest {
  method: string;
  /** Path with query, as sent (`/v2/droplets?page=1…`). */
  path: string;
  /** The JSON body, or undefined when there was none. */
  body: unknown;
  /** When the request arrived, in `clock` time. */
  at: number;
}

export interface RecordingProxy {
  /** Base URL to give the provider, ending in `/v2`. */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startRecordingProxy(targetUrl: string, clock: Clock): Promise<RecordingProxy> {
  const target = new URL(targetUrl);
  const requests: RecordedRequest[] = [];
  const agent = new http.Agent({ keepAlive: false });
  const server = http.createServer((req, res) => {
    const at = clock.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const text = raw.toString('utf8');
      requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', body: text ? JSON.parse(text) : undefined, at });
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      // The simulator dropped the connection or lost the answer: do the same to the client.
      upstream.on('error', () => res.socket?.destroy());
      res.on('close', () => upstream.destroy());
      upstream.end(raw);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    requests,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}

/** The largest number of requests sent within any `windowMs` (sliding), from send times. */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end += 1) {
    while (sorted[end]! - sorted[start]! >= windowMs) start += 1;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

/** TCP sockets and servers open in this process (for the leak checks of afterAll). */
export function openTcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length;
}

/** Resolves once no TCP handle beyond `baseline` is open; rejects after ~2 s of real time. */
export async function expectNoLeakedSockets(baseline: number): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (openTcpHandles() <= baseline) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`leaked ${openTcpHandles() - baseline} TCP handle(s): ${process.getActiveResourcesInfo().join(', ')}`);
}
