/**
 * The real hub for tests: a real HTTP server with the real hub on 127.0.0.1 (port 0 or a
 * given port), as the controller builds them. A hub a test leaves running fails it (leaks.ts).
 */
import type { AddressInfo } from 'node:net';
import type { Database } from '@toolbelt/schema';
import { Router } from '../../src/http/router.ts';
import { HttpServer } from '../../src/http/server.ts';
import type { TlsFiles } from '../../src/http/tls.ts';
import { AgentHub, type AgentHubOptions } from '../../src/hub/index.ts';
import { createLogger } from '../../src/logger.ts';
import { track } from './leaks.ts';

export const silentLogger = createLogger({ logLevel: process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'silent', logFormat: 'json' }, process.stderr);

export interface TestHub {
  hub: AgentHub;
  http: HttpServer;
  port: number;
  /** ws://127.0.0.1:PORT/agent/v1 (wss:// with `tls`) */
  url: string;
  stop(): Promise<void>;
}

/** Starts an HTTP server and a hub on it, as the controller does. */
export async function startTestHub(
  database: Database,
  options: Omit<AgentHubOptions, 'database' | 'http' | 'logger'> & { port?: number; tls?: TlsFiles } = {},
): Promise<TestHub> {
  const { port: wanted = 0, tls, ...hubOptions } = options;
  const http = new HttpServer({ host: '127.0.0.1', port: wanted, router: new Router(), logger: silentLogger, tls });
  const hub = new AgentHub({ ...hubOptions, database, http, logger: silentLogger });
  await http.start();
  await hub.start();
  const port = (http.server.address() as AddressInfo).port;
  const stop = async () => {
    await hub.stop();
    await http.stop();
  };
  const forget = track('an agent hub', stop);
  return {
    hub,
    http,
    port,
    url: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/agent/v1`,
    async stop() {
      forget();
      await stop();
    },
  };
}
