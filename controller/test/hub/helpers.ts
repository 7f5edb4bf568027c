/**
 * Test helpers for the hub: a real HTTP server with the real hub on 127.0.0.1 (port 0 or a
 * given port), environments with credentials, and a small protocol client over real `ws`.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  type Database,
  type Db,
  addToolInstance,
  createAgent,
  createCatalogTool,
  createEnvironment,
  issueEnrollmentToken,
  TOKEN_PREFIXES,
  hashToken,
  redeemEnrollmentToken,
  rowsOf,
} from '@toolbelt/schema';
import { sql } from 'drizzle-orm';
import { type ControllerMessage, type ControllerMessageOf, encodeMessage, type AgentMessage, type WithoutVersion } from '@toolbelt/schema/protocol';
import { WebSocket } from 'ws';
import { Router } from '../../src/http/router.ts';
import { HttpServer } from '../../src/http/server.ts';
import type { TlsFiles } from '../../src/http/tls.ts';
import { AgentHub, type AgentHubOptions } from '../../src/hub/index.ts';
import { createLogger } from '../../src/logger.ts';

export const silentLogger = createLogger({ logLevel: process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'silent', logFormat: 'json' }, process.stderr);

export interface TestHub {
  hub: AgentHub;
  http: HttpServer;
  port: number;
  /** ws://127.0.0.1:PORT/agent/v1 (wss:// with `tls`) */
  url: string;
  stop(): Promise<void>;
}

const running = new Set<TestHub>();
const sockets = new Set<WebSocket>();

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
  const handle: TestHub = {
    hub,
    http,
    port,
    url: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/agent/v1`,
    async stop() {
      running.delete(handle);
      await hub.stop();
      await http.stop();
    },
  };
  running.add(handle);
  return handle;
}

/** Stops what a test left running and closes its sockets; returns how many hubs were left. */
export async function cleanUp(): Promise<number> {
  for (const socket of sockets) socket.terminate();
  sockets.clear();
  const left = [...running];
  await Promise.all(left.map((h) => h.stop()));
  return left.length;
}

let counter = 0;

/** An agent row and its environment. */
export async function makeEnvironment(db: Db) {
  counter += 1;
  const agent = await createAgent(db, { name: `hub-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 6)}` });
  if (agent.kind !== 'ok') throw new Error('agent not created');
  const env = await createEnvironment(db, agent.value.id, { region: 'nyc3', size: 's-1vcpu-1gb' });
  if (env.kind !== 'ok') throw new Error('environment not created');
  return env.value;
}

/** An environment whose agent already holds a credential (enrolled earlier). */
export async function enrolledEnvironment(db: Db) {
  const env = await makeEnvironment(db);
  const enrollment = await issueEnrollmentToken(db, env.id);
  const redeemed = await redeemEnrollmentToken(db, enrollment.token);
  if (redeemed.kind !== 'ok') throw new Error('enrollment failed');
  return { env, credential: redeemed.value.token, credentialId: redeemed.value.credentialId };
}

/**
 * `n` environments whose agents hold credentials, written in three statements (load tests
 * and benchmarks need thousands). Returns each environment's id and credential.
 */
export async function bulkEnrolledEnvironments(db: Db, n: number): Promise<{ environmentId: string; token: string }[]> {
  const prefix = `bulk-${process.pid}-${Date.now().toString(36)}`;
  const ids = rowsOf<{ id: string }>(
    await db.execute(sql`
      with a as (insert into agents (name) select ${prefix} || '-' || g from generate_series(1, ${n}) g returning id)
      insert into agent_droplets (agent_id, region, size) select id, 'nyc3', 's-1vcpu-1gb' from a returning id`),
  );
  const rows = ids.map(({ id }) => ({ environmentId: id, token: TOKEN_PREFIXES.agent + randomBytes(32).toString('base64url') }));
  const json = JSON.stringify(rows.map((r) => ({ env: r.environmentId, hash: hashToken(r.token) })));
  await db.execute(sql`
    insert into droplet_credentials (agent_droplet_id, kind, token_hash, used_at)
    select env, 'agent', hash, now() from jsonb_to_recordset(${json}::jsonb) as v(env uuid, hash text)`);
  return rows;
}

/** A tool instance on an environment. */
export async function makeTool(db: Db, environmentId: string) {
  counter += 1;
  const catalog = await createCatalogTool(db, {
    tool_name: `tool-${process.pid}-${counter}`,
    version_info: { versions: ['1.0.0'], default: '1.0.0' },
    packaging_type: 'npm_package',
    package_identifier: 'echo',
  });
  if (catalog.kind !== 'ok') throw new Error('catalog tool not created');
  const tool = await addToolInstance(db, environmentId, { tool_catalog_id: catalog.value.id, instance_name: `t${counter}`, version: '1.0.0' });
  if (tool.kind !== 'ok') throw new Error('tool not created');
  return tool.value;
}

/** The HTTP answer to an upgrade that was refused. */
export interface Refused {
  status: number;
  body: { error?: { code?: string; message?: string } };
}

/** A protocol client over a real socket: send messages, await the next one of a type. */
export class TestAgent {
  readonly received: ControllerMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: { type: string; resolve: (m: ControllerMessage) => void }[] = [];

  private constructor(readonly socket: WebSocket) {
    sockets.add(socket);
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as ControllerMessage;
      this.received.push(message);
      const index = this.#waiters.findIndex((w) => w.type === message.type);
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

  /** Takes the oldest message of a type not taken yet, waiting for one if none came yet. */
  next<T extends ControllerMessage['type']>(type: T): Promise<ControllerMessageOf<T>> {
    const index = this.received.findIndex((m) => m.type === type);
    if (index >= 0) return Promise.resolve(this.received.splice(index, 1)[0] as ControllerMessageOf<T>);
    return new Promise((resolve) =>
      this.#waiters.push({
        type,
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

  /** Waits until the hub has handled everything sent so far (it answers messages in order). */
  async settled(): Promise<void> {
    this.send({ type: 'credential_ack', credentialId: 'probe' });
    await this.next('error');
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
