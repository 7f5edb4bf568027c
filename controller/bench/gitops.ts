/**
 * GitOps: a push declaring 100 agents with toolbelts, from the webhook's arrival to applied
 * (p50 of several runs), beside the same set posted to `POST /v1/apply` (what the sync costs
 * over a direct apply); then a sync of the commit already applied (the poll's path): its
 * time, and that it writes nothing. Real git (a bare repository over file://), the
 * controller over real HTTP on loopback, embedded PGlite or Postgres (BENCH_DATABASE_URL —
 * a database of its own: the bench migrates it and leaves its rows there).
 * Run: `npm run bench:gitops -w @toolbelt/controller` (numbers go into docs/performance.md).
 */
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDatabase, rowsOf } from '@toolbelt/schema';
import { sql } from 'drizzle-orm';
import { parseConfig } from '../src/config.ts';
import { serveDatabase } from '../src/controller.ts';
import { createLogger } from '../src/logger.ts';

const AGENTS = 100;
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const SECRET = randomBytes(16).toString('hex');

const root = mkdtempSync(join(tmpdir(), 'toolbelt-gitops-bench-'));
const bare = join(root, 'remote.git');
const work = join(root, 'work');
const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'b@example.com', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'b@example.com' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' }).trim();
git(root, 'init', '--bare', '--quiet', '--initial-branch=main', bare);
git(root, 'init', '--quiet', '--initial-branch=main', work);

const catalog = `apiVersion: toolbelt.dev/v1
kind: CatalogTool
metadata:
  name: echo
spec:
  version_info: { versions: ["1.0.0"], default: "1.0.0" }
  packaging_type: npm_package
  package_identifier: echo-mcp
  default_config_template: { type: object, properties: { greeting: { type: string, default: hi } } }
`;
const agentsYaml = (run: string) =>
  Array.from({ length: AGENTS }, (_, i) => {
    const name = `${run}-agent-${String(i).padStart(3, '0')}`;
    return `apiVersion: toolbelt.dev/v1\nkind: Agent\nmetadata: { name: ${name} }\nspec: { description: "agent ${i}" }\n---\napiVersion: toolbelt.dev/v1\nkind: Toolbelt\nmetadata: { name: ${name} }\nspec:\n  tools:\n    - tool_name: echo\n      config_details: { greeting: "hello ${i}" }\n`;
  }).join('---\n');

function push(files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) writeFileSync(join(work, path), text);
  git(work, 'add', '--all');
  git(work, 'commit', '--quiet', '-m', 'bench');
  git(work, 'push', '--quiet', '--force', `file://${bare}`, 'HEAD:refs/heads/main');
  return git(work, 'rev-parse', 'HEAD');
}

const url = process.env.BENCH_DATABASE_URL;
const database = await openDatabase(url ? { url } : { dataDir: 'memory://' });
await migrate(database.db);
const token = `tb_${randomBytes(32).toString('base64url')}`;
const dataDir = join(root, 'data');
push({ 'catalog.yaml': catalog });
const config = parseConfig(['--port', '0'], {
  TOOLBELT_ADMIN_TOKEN: token,
  DATABASE_URL: url,
  TOOLBELT_DATA_DIR: dataDir,
  TOOLBELT_SEED_CATALOG: 'false',
  TOOLBELT_GITOPS_REPO: `file://${bare}`,
  TOOLBELT_GITHUB_WEBHOOK_SECRET: SECRET,
  TOOLBELT_GITOPS_POLL_MS: '600000',
});
const controller = await serveDatabase(database, {
  config,
  logger: createLogger({ logLevel: 'silent', logFormat: 'json' }),
  options: { lifecycle: false },
  ownsDatabase: true,
});
const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  const res = await fetch(`${controller.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
};
type Status = { applied_commit: string | null; pending: number; status: string };
const until = async (done: (s: Status) => boolean): Promise<Status> => {
  for (;;) {
    const s = await api<Status>('GET', '/v1/gitops?limit=1');
    if (done(s)) return s;
    await new Promise((r) => setTimeout(r, 10));
  }
};
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `p50 ${p50(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)}, n=${xs.length})`;

await until((s) => s.applied_commit !== null);

// 1. Webhook → applied, and the webhook's own answer.
const applied: number[] = [];
const answered: number[] = [];
for (let run = 0; run < RUNS; run += 1) {
  const commit = push({ 'agents.yaml': agentsYaml(`g${run}`) });
  const body = JSON.stringify({ ref: 'refs/heads/main', after: commit, pusher: { name: 'bench' } });
  const start = performance.now();
  const res = await fetch(`${controller.url}/webhooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
    },
    body,
  });
  answered.push(performance.now() - start);
  if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
  const s = await until((x) => x.applied_commit === commit || x.status === 'Failed');
  if (s.applied_commit !== commit) throw new Error(`sync failed: ${JSON.stringify(s)}`);
  applied.push(performance.now() - start);
}

// 2. The same kind of set through POST /v1/apply (fresh names each run, as above).
const { parseAllDocuments } = await import('yaml');
const direct: number[] = [];
for (let run = 0; run < RUNS; run += 1) {
  const documents = parseAllDocuments(agentsYaml(`a${run}`)).map((d) => d.toJS() as unknown);
  const start = performance.now();
  await api('POST', '/v1/apply', { documents });
  direct.push(performance.now() - start);
}

// 3. A sync of the commit already applied: the poll's path (the loop's key, no request row).
const writes = async () =>
  rowsOf<{ sig: string }>(
    await database.db.execute(sql`select
      (select count(*) from gitops_syncs)::text || '/' ||
      (select coalesce(max(updated_at)::text, '-') from agents) || '/' ||
      (select coalesce(sum(generation), 0)::text from agents) || '/' ||
      (select coalesce(sum(generation), 0)::text from agent_droplet_tools) || '/' ||
      (select count(*) from gitops_objects where status = 'Synced')::text || '/' ||
      (select count(*) from events)::text as sig`),
  )[0]!.sig;
// Back to a commit the sync applies, then time re-syncs of it.
const last = push({ 'agents.yaml': agentsYaml('g-final') });
await fetch(`${controller.url}/webhooks/github`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(),
    'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(JSON.stringify({ ref: 'refs/heads/main', after: last })).digest('hex')}` },
  body: JSON.stringify({ ref: 'refs/heads/main', after: last }),
});
await until((s) => s.applied_commit === last);
const histogram = async () => {
  const metric = (await controller.registry.getSingleMetric('toolbelt_gitops_sync_duration_seconds')!.get()).values;
  const pick = (name: string) => metric.find((v) => (v as { metricName?: string }).metricName === name && v.labels.result === 'unchanged')?.value ?? 0;
  return { count: pick('toolbelt_gitops_sync_duration_seconds_count'), sum: pick('toolbelt_gitops_sync_duration_seconds_sum') };
};
// Let the tools reconciler finish with the tools just created (it writes their status, not GitOps).
await new Promise((r) => setTimeout(r, 3000));
const before = await writes();
const noop: number[] = [];
for (let run = 0; run < RUNS * 3; run += 1) {
  const was = await histogram();
  controller.loop!.runner.enqueue('gitops', 'repo', { source: 'bench' });
  for (;;) {
    const now = await histogram();
    if (now.count > was.count) {
      noop.push((now.sum - was.sum) * 1000);
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}
const after = await writes();

console.log(`database: ${url ? 'postgres' : 'pglite (in memory)'}; ${AGENTS} agents with a toolbelt each per push, ${RUNS} runs`);
console.log(`webhook answered:            ${fmt(answered)}`);
console.log(`webhook → applied (GitOps):  ${fmt(applied)}`);
console.log(`POST /v1/apply, same set:    ${fmt(direct)}`);
console.log(`GitOps / direct apply:       ${(p50(applied) / p50(direct)).toFixed(2)}×`);
console.log(`no-op sync (applied commit): ${fmt(noop)}; writes: ${before === after ? 'none' : `CHANGED ${before} → ${after}`}`);

await controller.stop();
rmSync(root, { recursive: true, force: true });
