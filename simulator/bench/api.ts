/**
 * Throughput of the simulator over real HTTP on loopback, with a 10,000-droplet fleet (the
 * steady fleet DESIGN.md budgets for): building the fleet in batches of 10, a full fleet
 * sweep (50 pages of 200), single gets, and the contract validator. Run:
 * `npm run bench -w @toolbelt/simulator`. Numbers go into docs/simulator.md. CPU time per
 * operation is reported besides wall time: it is steadier on a shared machine.
 */
import { performance } from 'node:perf_hooks';
import { validateResponse } from '../src/contract.ts';
import { startSimulator } from '../src/index.ts';

const FLEET = 10_000;
const sim = await startSimulator({ rateLimit: false, bootDelayMs: 0, dropletLimit: 1_000_000 });
const headers = { authorization: `Bearer ${sim.token}`, 'content-type': 'application/json' };

async function timed(label: string, count: number, unit: string, fn: (i: number) => Promise<void>): Promise<void> {
  const samples: number[] = [];
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i += 1) {
    const t = performance.now();
    await fn(i);
    samples.push(performance.now() - t);
  }
  const total = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const cpuMsPerOp = ((cpu.user + cpu.system) / 1000 / count).toFixed(2);
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!.toFixed(2);
  console.log(`${label}: ${count} ${unit} in ${total.toFixed(0)} ms (${((count / total) * 1000).toFixed(0)}/s), p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, CPU ${cpuMsPerOp} ms/op (client and server, one process)`);
}

const body = (i: number) => ({
  names: Array.from({ length: 10 }, (_, j) => `fleet-${i}-${j}`),
  region: 'nyc3',
  size: 's-1vcpu-1gb',
  image: 'ubuntu-24-04-x64',
  tags: ['fleet', `env-${i}`],
});

try {
  await timed('create (POST /v2/droplets, 10 names)', FLEET / 10, 'requests', async (i) => {
    const response = await fetch(`${sim.url}/droplets`, { method: 'POST', headers, body: JSON.stringify(body(i)) });
    if (response.status !== 202) throw new Error(`create answered ${response.status}`);
    await response.arrayBuffer();
  });
  let page: unknown;
  await timed('sweep page (GET /v2/droplets?tag_name=fleet&per_page=200)', FLEET / 200, 'pages', async (i) => {
    const response = await fetch(`${sim.url}/droplets?tag_name=fleet&per_page=200&page=${i + 1}`, { headers });
    page = await response.json();
  });
  const id = sim.state.listDroplets()[FLEET / 2]!.id;
  await timed('get (GET /v2/droplets/{id})', 2000, 'requests', async () => {
    await (await fetch(`${sim.url}/droplets/${id}`, { headers })).arrayBuffer();
  });
  await timed('validate a 200-droplet page against the OpenAPI schema', 50, 'pages', async () => {
    if (!validateResponse('GET', '/v2/droplets', 200, page).valid) throw new Error('page does not validate');
  });
  console.log(`rss ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MB with ${sim.state.listDroplets().length} droplets`);
} finally {
  await sim.close();
}
