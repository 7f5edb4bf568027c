/**
 * GitOps' metrics. Webhook deliveries are counted by the replica that took them; the last
 * sync (time, result, commit) and the objects out of sync are read from the database at
 * scrape time, so every replica reports the leader's syncs.
 */
import { type Db, lastAppliedGitopsSync, latestGitopsSync, listGitopsObjects } from '@toolbelt/schema';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What became of a webhook delivery. */
export type DeliveryOutcome = 'scheduled' | 'duplicate' | 'ignored' | 'ping' | 'bad_signature' | 'bad_request' | 'too_large';

export interface GitopsMetrics {
  delivery(outcome: DeliveryOutcome): void;
  /** A sync that applied or failed, and how long it took from its start. */
  sync(result: 'applied' | 'failed' | 'unchanged', seconds: number): void;
}

/** Registers GitOps' metrics on `registry`; `db` is read at scrape time. */
export function gitopsMetrics(registry: Registry, db: Db): GitopsMetrics {
  const registers = [registry];
  const deliveries = new Counter({
    name: 'toolbelt_gitops_webhook_deliveries_total',
    help: 'GitHub webhook deliveries this replica answered, by outcome (bad_signature: refused with 401)',
    labelNames: ['outcome'],
    registers,
  });
  const syncs = new Histogram({
    name: 'toolbelt_gitops_sync_duration_seconds',
    help: 'GitOps syncs run by this replica, by result (unchanged: the commit was already applied), from fetch to commit',
    labelNames: ['result'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  new Gauge({
    name: 'toolbelt_gitops_last_sync_timestamp_seconds',
    help: 'When the last GitOps sync (applied or failed) finished',
    registers,
    async collect() {
      const last = await latestGitopsSync(db);
      this.set(last ? last.finished_at.getTime() / 1000 : 0);
    },
  });
  new Gauge({
    name: 'toolbelt_gitops_last_sync_success',
    help: '1 when the last GitOps sync applied its commit, 0 when it failed (absent before the first)',
    registers,
    async collect() {
      this.reset();
      const last = await latestGitopsSync(db);
      if (last) this.set(last.result === 'applied' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'toolbelt_gitops_applied_commit_info',
    help: 'The commit GitOps last applied (value 1, the commit in a label)',
    labelNames: ['commit'],
    registers,
    async collect() {
      this.reset();
      const applied = await lastAppliedGitopsSync(db);
      if (applied?.commit) this.set({ commit: applied.commit }, 1);
    },
  });
  new Gauge({
    name: 'toolbelt_gitops_objects_out_of_sync',
    help: 'Objects from git changed around it since (OutOfSync)',
    registers,
    async collect() {
      this.set((await listGitopsObjects(db)).filter((o) => o.status === 'OutOfSync').length);
    },
  });
  return {
    delivery: (outcome) => deliveries.inc({ outcome }),
    sync: (result, seconds) => syncs.observe({ result }, seconds),
  };
}
