/**
 * A real controller API for tests: the real HTTP server and API on 127.0.0.1 port 0, over
 * the test file's own database (PGlite or Postgres), with every log line kept (at trace
 * level) so that tests can check what was — and was not — logged.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { type Db, notifySpecChange, parseSpecChange, SPEC_CHANNEL, type SpecChange } from '@toolbelt/schema';
import type { TestDatabase } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import type { SecretStore } from '../../src/api/secrets.ts';
import { createSecretStore, keyringFrom } from '../../src/secrets/index.ts';
import { parseConfig } from '../../src/config.ts';
import { type ControllerOptions, type RunningController, serveDatabase } from '../../src/controller.ts';
import { createLogger } from '../../src/logger.ts';
import { track } from './leaks.ts';

export interface TestApi {
  url: string;
  controller: RunningController;
  /** Every log line so far, as written. */
  logs: string[];
  /** Everything printed to the controller's stderr (the one-time admin token line). */
  stderr: string[];
  adminToken: string;
  /**
   * Spec changes announced so far, as the loop hears them (LISTEN on the spec channel). Read
   * them with `announced()`, which first waits for every earlier commit's notifications.
   */
  changes: SpecChange[];
  /** Every announcement of every commit so far (a marker NOTIFY sent after them has arrived). */
  announced(): Promise<SpecChange[]>;
  /** Forgets the announcements so far (after waiting for them all). */
  clearChanges(): Promise<void>;
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
  /** Creates a token of `role` through the API (as admin) and returns it. */
  token(role: 'viewer' | 'operator' | 'admin', name?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface CallOptions {
  token?: string | null;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  headers: Headers;
  // Tests read answers loosely; the shapes are checked by the assertions themselves.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

function sink(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
}

export async function startTestApi(t: TestDatabase, options: ControllerOptions = {}): Promise<TestApi> {
  const logs: string[] = [];
  const stderr: string[] = [];
  const changes: SpecChange[] = [];
  const markers = new Map<string, () => void>();
  const unlisten = await t.database.listen(SPEC_CHANNEL, (payload) => {
    const change = parseSpecChange(payload);
    if (change?.kind === MARKER_KIND) markers.get(change.key)?.();
    else if (change) changes.push(change);
  });
  // Notifications reach a listener in commit order: once a marker sent now arrives, every
  // announcement committed before it has arrived too.
  const announced = async () => {
    const key = randomBytes(6).toString('hex');
    const arrived = new Promise<void>((resolve) => markers.set(key, resolve));
    await notifySpecChange(t.db, { kind: MARKER_KIND, key });
    await arrived;
    markers.delete(key);
    return [...changes];
  };
  const adminToken = `tb_${randomBytes(32).toString('base64url')}`;
  const config = parseConfig(['--port', '0', '--data-dir', 'memory://'], { TOOLBELT_ADMIN_TOKEN: adminToken, LOG_LEVEL: 'trace', TOOLBELT_SEED_CATALOG: 'false' });
  const logger = createLogger({ logLevel: 'trace', logFormat: 'json' }, sink(logs));
  let controller: RunningController;
  try {
    controller = await serveDatabase(t.database, {
      config,
      logger,
      ownsDatabase: false,
      options: { stderr: sink(stderr), eventPollMs: 50, loop: false, ...options },
    });
  } catch (error) {
    await unlisten();
    throw error;
  }
  const stop = async () => {
    await unlisten();
    await controller.stop();
  };
  const forget = track('a controller (startTestApi)', stop);
  const url = controller.url;
  const call = async (method: string, path: string, o: CallOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...o.headers };
    const token = o.token === undefined ? adminToken : o.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined = o.rawBody;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${url}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed };
  };
  return {
    url,
    controller,
    logs,
    stderr,
    adminToken,
    changes,
    announced,
    async clearChanges() {
      await announced();
      changes.length = 0;
    },
    call,
    async token(role, name = `${role}-${randomBytes(3).toString('hex')}`) {
      const answer = await call('POST', '/v1/tokens', { body: { name, role } });
      if (answer.status !== 201) throw new Error(`could not create a ${role} token: ${JSON.stringify(answer.body)}`);
      return answer.body.token as string;
    },
    async stop() {
      forget();
      await stop();
    },
  };
}

/** The kind of the marker notifications `announced` sends (no reconciler has it). */
const MARKER_KIND = 'test-marker';

/** A catalog tool for tests: an echo MCP server with a small config template. */
export const echoCatalogTool = {
  tool_name: 'echo',
  description: 'echoes',
  version_info: { versions: ['1.0.0', '1.1.0'], default: '1.1.0' },
  packaging_type: 'npm_package',
  package_identifier: '@modelcontextprotocol/server-everything',
  transport: 'mcp-stdio',
  default_config_template: {
    type: 'object',
    properties: {
      greeting: { type: 'string', default: 'hello' },
      repeat: { type: 'integer', minimum: 1, maximum: 10, default: 1 },
    },
    additionalProperties: false,
    'x-toolbelt-secrets': ['OPENAI_API_KEY'],
  },
};

/** Empties every spec table between tests, keeping the API tokens. */
export async function resetSpecTables(db: Db): Promise<void> {
  await db.execute(sql`truncate agents, agent_droplets, agent_droplet_tools, tool_catalog, events, secrets cascade`);
}

/** The real envelope-encrypted secret store over the test database, with a fresh master key. */
export function localSecretStore(db: Db): SecretStore {
  return createSecretStore({ db, backend: 'local', keyring: keyringFrom([randomBytes(32).toString('base64')], 'test key') });
}
