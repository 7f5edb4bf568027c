/**
 * The MCP gateway against the same tool called directly, in one run: a controller with a
 * local droplet (a real droplet agent) running the HTTP `echo` tool; the official client
 * (SDK v2) calls `echo` on the tool's loopback endpoint and `echo__echo` through
 * `/v1/agents/alpha/mcp` (2026-07-28, stateless). Sequential calls give the added latency
 * (p50, p99, ratio); 100 concurrent callers give calls per second through one process.
 * Run: `npx tsx controller/bench/gateway.ts` (BENCH_DATABASE_URL for Postgres; PGlite in
 * memory otherwise). Numbers go into docs/performance.md.
 */
import { migrate, openDatabase } from '@toolbelt/schema';
import type { TestDatabase } from '@toolbelt/schema/testing';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startE2E } from '../test/support/e2e.ts';
import { eventually } from '../test/support/eventually.ts';
import { freePort } from '../test/support/ports.ts';

const SEQUENTIAL = Number(process.env.BENCH_CALLS ?? 1000);
const CONCURRENT = 100;
const CONCURRENT_CALLS = Number(process.env.BENCH_CONCURRENT_CALLS ?? 5000);

const url = process.env.BENCH_DATABASE_URL;
const database = await openDatabase(url ? { url } : { dataDir: 'memory://' });
await migrate(database.db);
const e = await startE2E({ kind: url ? 'postgres' : 'pglite', database, db: database.db, url } as unknown as TestDatabase, {
  TOOLBELT_GATEWAY_RATE_PER_AGENT: '1000000',
  TOOLBELT_GATEWAY_CONCURRENCY_PER_AGENT: '100000',
  LOG_LEVEL: 'info',
});

async function client(target: string, token?: string, pin = false): Promise<Client> {
  const c = new Client({ name: 'bench', version: '1.0.0' }, pin ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {});
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  await c.connect(new StreamableHTTPClientTransport(new URL(target), { requestInit: { headers } }));
  return c;
}

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

async function sequential(c: Client, name: string): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i += 1) {
    const start = performance.now();
    await c.callTool({ name, arguments: { text: `call ${i}` } });
    samples.push(performance.now() - start);
  }
  return samples;
}

async function concurrent(clients: Client[], name: string): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      while (next < CONCURRENT_CALLS) {
        next += 1;
        await c.callTool({ name, arguments: { text: 'x' } });
      }
    }),
  );
  return CONCURRENT_CALLS / ((performance.now() - start) / 1000);
}

try {
  const port = await freePort();
  await e.call('PATCH', '/v1/catalog/echo', { ports: [port] });
  await e.call('POST', '/v1/agents', { name: 'alpha', environment: { active: true } });
  await e.call('PUT', '/v1/agents/alpha/secrets/echo-secret', { value: 'bench' });
  const added = await e.call('POST', '/v1/agents/alpha/tools', { tool_name: 'echo', secret_refs: { ECHO_SECRET: 'echo-secret' } });
  const tool = await eventually(async () => {
    const t = (await e.call('GET', `/v1/agents/alpha/tools/${added.body.id}`)).body;
    const ready = t.conditions.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
    return t.status === 'running' && ready && t.endpoints.length > 0 ? t : undefined;
  }, () => 'echo did not run', 300_000);
  const endpoint = tool.endpoints[0] as { port: number; path: string };
  const direct = await client(`http://127.0.0.1:${endpoint.port}${endpoint.path}`);
  const gateway = await client(`${e.controller.url}/v1/agents/alpha/mcp`, e.adminToken, true);
  // Warm both paths, then alternate rounds so that the machine's load falls on both alike.
  await sequential(direct, 'echo');
  await sequential(gateway, 'echo__echo');
  const d: number[] = [];
  const g: number[] = [];
  for (let round = 0; round < 4; round += 1) {
    d.push(...(await sequential(direct, 'echo')));
    g.push(...(await sequential(gateway, 'echo__echo')));
  }
  const ds = stats(d);
  const gs = stats(g);
  const f = (n: number) => n.toFixed(2);
  console.log(`sequential (${d.length} calls each): direct p50 ${f(ds.p50)} ms p99 ${f(ds.p99)} ms; gateway p50 ${f(gs.p50)} ms p99 ${f(gs.p99)} ms`);
  console.log(`added: p50 ${f(gs.p50 - ds.p50)} ms, p99 ${f(gs.p99 - ds.p99)} ms; ratio gateway/direct p50 ${(gs.p50 / ds.p50).toFixed(2)}, p99 ${(gs.p99 / ds.p99).toFixed(2)}`);
  const directs = await Promise.all(Array.from({ length: CONCURRENT }, () => client(`http://127.0.0.1:${endpoint.port}${endpoint.path}`)));
  const gateways = await Promise.all(Array.from({ length: CONCURRENT }, () => client(`${e.controller.url}/v1/agents/alpha/mcp`, e.adminToken, true)));
  const directRate = await concurrent(directs, 'echo');
  const rss0 = process.memoryUsage().rss;
  const gatewayRate = await concurrent(gateways, 'echo__echo');
  console.log(`${CONCURRENT} concurrent callers, one agent (${CONCURRENT_CALLS} calls): direct ${directRate.toFixed(0)} calls/s, gateway ${gatewayRate.toFixed(0)} calls/s (ratio ${(gatewayRate / directRate).toFixed(2)}); bench process RSS ${(rss0 / 2 ** 20).toFixed(0)} → ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
  await Promise.all([direct, gateway, ...directs, ...gateways].map((c) => c.close()));
} finally {
  await e.stop();
  await database.close();
}
