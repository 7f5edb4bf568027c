/**
 * Latency of the API over real HTTP on loopback, against embedded PGlite (in memory) or
 * Postgres (BENCH_DATABASE_URL): list, get, an environment toggle, and apply of a set of
 * agents with toolbelts — first creating it, then re-applying it unchanged.
 * Run: `npm run bench -w @toolbelt/controller` (numbers go into docs/api.md).
 */
import { randomBytes } from 'node:crypto';
import { migrate, openDatabase } from '@toolbelt/schema';
import { parseConfig } from '../src/config.ts';
import { serveDatabase } from '../src/controller.ts';
import { createLogger } from '../src/logger.ts';

const AGENTS = 100;
const ROUNDS = 200;

function percentiles(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(2);
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms (n=${samples.length})`;
}

async function timed(n: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const start = performance.now();
    await fn(i);
    samples.push(performance.now() - start);
  }
  return samples;
}

const url = process.env.BENCH_DATABASE_URL;
const database = await openDatabase(url ? { url } : { dataDir: 'memory://' });
await migrate(database.db);
const token = `tb_${randomBytes(32).toString('base64url')}`;
const config = parseConfig(['--port', '0'], { TOOLBELT_ADMIN_TOKEN: token, DATABASE_URL: url });
const controller = await serveDatabase(database, { config, logger: createLogger({ logLevel: 'silent', logFormat: 'json' }), ownsDatabase: true });
const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${controller.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
};

const catalog = {
  kind: 'CatalogTool',
  metadata: { name: 'echo' },
  spec: {
    version_info: { versions: ['1.0.0'], default: '1.0.0' },
    packaging_type: 'npm_package',
    package_identifier: 'echo-mcp',
    default_config_template: { type: 'object', properties: { greeting: { type: 'string', default: 'hi' } } },
  },
};
const documents = [catalog];
for (let i = 0; i < AGENTS; i += 1) {
  const name = `agent-${String(i).padStart(3, '0')}`;
  documents.push({ kind: 'Agent', metadata: { name }, spec: { environment: { active: true } } } as never);
  documents.push({ kind: 'Toolbelt', metadata: { name }, spec: { tools: [{ tool_name: 'echo' }] } } as never);
}

const create = await timed(1, () => call('POST', '/v1/apply', { documents }));
const again = await timed(5, () => call('POST', '/v1/apply', { documents }));
const list = await timed(ROUNDS, () => call('GET', '/v1/agents?limit=100'));
const get = await timed(ROUNDS, (i) => call('GET', `/v1/agents/agent-${String(i % AGENTS).padStart(3, '0')}`));
const toggle = await timed(ROUNDS, (i) => call('PUT', `/v1/agents/agent-${String(i % AGENTS).padStart(3, '0')}/environment`, { active: i % 2 === 0 }));
await controller.stop();

console.log(`database: ${url ? 'postgres' : 'pglite (memory)'}`);
console.log(`apply ${documents.length} documents (${AGENTS} agents + toolbelts), creating: ${create[0]!.toFixed(0)} ms`);
console.log(`apply the same set again (no change): ${percentiles(again)}`);
console.log(`GET /v1/agents?limit=100: ${percentiles(list)}`);
console.log(`GET /v1/agents/{name}: ${percentiles(get)}`);
console.log(`PUT /v1/agents/{name}/environment (toggle): ${percentiles(toggle)}`);
