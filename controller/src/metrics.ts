/**
 * Metrics read from the parts at scrape time (prom-client `collect`): agents connected to
 * this replica, tools and environments by status, environments stopped in BootFailed, and
 * the DigitalOcean client's calls and remaining budget.
 * The loop registers its own (reconcile outcomes and durations, queue depth, leadership).
 */
import { type Db, rowsOf } from '@toolbelt/schema';
import type { Provider } from '@toolbelt/reconcilers';
import { sql } from 'drizzle-orm';
import { Gauge, type Registry } from 'prom-client';
import type { AgentHub } from './hub/index.ts';

export interface MetricSources {
  db: Db;
  hub: AgentHub;
  provider?: Provider | undefined;
}

export function registerControllerMetrics(registry: Registry, sources: MetricSources): void {
  const registers = [registry];
  new Gauge({
    name: 'toolbelt_agents_connected',
    help: 'Droplet agents whose socket this replica holds',
    registers,
    collect() {
      this.set(sources.hub.stats().connections);
    },
  });
  new Gauge({
    name: 'toolbelt_heartbeats_received_total',
    help: 'Heartbeats this replica has received since it started',
    registers,
    collect() {
      this.set(sources.hub.stats().heartbeatsReceived);
    },
  });
  countByStatus(registers, sources.db, {
    name: 'toolbelt_tools',
    help: 'Tool instances by observed status (the whole fleet)',
    table: 'agent_droplet_tools',
  });
  countByStatus(registers, sources.db, {
    name: 'toolbelt_environments',
    help: 'Tool environments by status (the whole fleet): alert on unreachable and error',
    table: 'agent_droplets',
  });
  new Gauge({
    name: 'toolbelt_environments_boot_failed',
    help: 'Tool environments stopped in BootFailed: droplet after droplet never brought up its agent (toolbelt env retry starts one over)',
    registers,
    async collect() {
      const rows = rowsOf<{ n: number }>(
        await sources.db.execute(sql`select count(*)::int as n from agent_droplets where conditions @> '[{"type":"BootFailed","status":"True"}]'::jsonb`),
      );
      this.set(rows[0]?.n ?? 0);
    },
  });
  if (sources.provider) registerProviderMetrics(registers, sources.provider);
}

/** A gauge of a table's rows by `status`, counted at scrape time. */
function countByStatus(registers: Registry[], db: Db, what: { name: string; help: string; table: 'agent_droplet_tools' | 'agent_droplets' }): void {
  const { name, help, table } = what;
  new Gauge({
    name,
    help,
    labelNames: ['status'],
    registers,
    async collect() {
      const rows = rowsOf<{ status: string; n: number }>(await db.execute(sql.raw(`select status, count(*)::int as n from ${table} group by status`)));
      this.reset();
      for (const row of rows) this.set({ status: row.status }, row.n);
    },
  });
}

function registerProviderMetrics(registers: Registry[], provider: Provider): void {
  new Gauge({
    name: 'toolbelt_digitalocean_requests_total',
    help: 'Requests sent to the DigitalOcean API since start, by operation and outcome',
    labelNames: ['endpoint', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const c of provider.stats().byEndpoint) this.set({ endpoint: c.endpoint, outcome: c.outcome }, c.count);
    },
  });
  new Gauge({
    name: 'toolbelt_digitalocean_rate_limited_total',
    help: 'DigitalOcean answers that were 429 since start',
    registers,
    collect() {
      this.set(provider.stats().rateLimited);
    },
  });
  new Gauge({
    name: 'toolbelt_digitalocean_budget_remaining',
    help: "Requests the client's own pacing still allows in each rate-limit window",
    labelNames: ['window'],
    registers,
    collect() {
      const { budget } = provider.stats();
      this.set({ window: 'hour' }, budget.hour.remaining);
      this.set({ window: 'minute' }, budget.minute.remaining);
    },
  });
}
