/**
 * `/healthz` answers while the process serves; `/readyz` once migrations ran and the
 * database answers, and not while the replica drains (a load balancer sends no new agents
 * or requests to a replica that is going away).
 */
import { type Db, isMigrated } from '@toolbelt/schema';
import { sql } from 'drizzle-orm';
import { type Router, sendJson } from './router.ts';

export interface ReadinessOptions {
  db: Db;
  /** How long the database may take to answer before the replica counts as not ready. */
  timeoutMs?: number;
  /** Whether the replica is draining (stopping): then it is not ready, whatever the database says. */
  draining?: () => boolean;
}

export function addHealthRoutes(router: Router, options: ReadinessOptions): void {
  router.on('GET', '/healthz', ({ res }) => sendJson(res, 200, { status: 'ok' }));
  router.on('GET', '/readyz', async ({ res }) => {
    const checks = await readiness(options);
    sendJson(res, checks.ready ? 200 : 503, checks);
  });
}

async function readiness({ db, timeoutMs = 2_000, draining }: ReadinessOptions) {
  if (draining?.()) return { ready: false, draining: true, database: 'not checked', migrations: 'not checked' };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([db.execute(sql`select 1`), timeout]);
    const migrated = await Promise.race([isMigrated(db), timeout]);
    return { ready: migrated, database: 'ok', migrations: migrated ? 'applied' : 'pending' };
  } catch (error) {
    return { ready: false, database: `error: ${(error as Error).message}`, migrations: 'unknown' };
  } finally {
    clearTimeout(timer);
  }
}
