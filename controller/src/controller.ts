/**
 * Assembles a controller from its config: the database (migrated), the HTTP server with its
 * routes, the leader elector with the reconcile loop under it, and the components that later
 * issues add. `main` runs it; tests start it in-process.
 */
import type { Reconciler } from '@toolbelt/reconcilers';
import { type Database, migrate, openDatabase } from '@toolbelt/schema';
import { Registry } from 'prom-client';
import { ComponentSet } from './component.ts';
import type { Config } from './config.ts';
import { addHealthRoutes } from './http/health.ts';
import { Router } from './http/router.ts';
import { HttpServer } from './http/server.ts';
import { createLifecycle, type Lifecycle, type LifecycleOptions } from './lifecycle.ts';
import type { Logger } from './logger.ts';
import { createLoop, type Loop } from './loop/assemble.ts';

export interface RunningController {
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly database: Database;
  readonly http: HttpServer;
  /** The runner (enqueue keys here) and the elector (is this replica the leader?). */
  readonly loop: Loop;
  /** Every metric of this controller (the API serves it at /metrics). */
  readonly registry: Registry;
  /** The droplet lifecycle (provider or embedded simulator, fleet cache, batcher), unless turned off. */
  readonly lifecycle: Lifecycle | undefined;
  stop(): Promise<void>;
}

export interface ControllerParts {
  /** Further reconcilers the loop runs (besides the lifecycle's). */
  reconcilers?: readonly Reconciler[];
  /**
   * Seams of the droplet lifecycle: `beforeDelete` (stop tools before a droplet goes),
   * `simulatorHooks` (e.g. `onBoot` starting a real droplet agent from user_data in the
   * embedded simulator), `renderUserData`. `false` runs no lifecycle at all.
   */
  lifecycle?: Pick<LifecycleOptions, 'beforeDelete' | 'simulatorHooks' | 'renderUserData'> | false;
}

/** The agents' URL on this server (`ws://…/agent/v1`), loopback for a wildcard bind. */
function agentUrlOf(httpUrl: string): string {
  const url = new URL(httpUrl);
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = '127.0.0.1';
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = '/agent/v1';
  return url.toString();
}

/** Opens and migrates the database named by the config, saying which one it is. */
export async function openMigratedDatabase(config: Config, logger: Logger): Promise<Database> {
  if (!config.databaseUrl) {
    logger.info(
      { dataDir: config.dataDir },
      `using embedded PGlite in ${config.dataDir} (set DATABASE_URL to use a Postgres server)`,
    );
  }
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  try {
    const result = await migrate(database.db);
    logger.info(
      { database: database.location, kind: database.kind, applied: result.applied, current: result.current },
      result.applied.length ? `applied ${result.applied.length} migration(s)` : 'database schema is up to date',
    );
    return database;
  } catch (error) {
    await database.close();
    throw error;
  }
}

export async function startController(
  config: Config,
  logger: Logger,
  parts: ControllerParts = {},
): Promise<RunningController> {
  const database = await openMigratedDatabase(config, logger);
  const registry = new Registry();
  const router = new Router();
  addHealthRoutes(router, { db: database.db });
  const http = new HttpServer({ host: config.host, port: config.port, router, logger });
  let lifecycle: Lifecycle | undefined;
  const components = new ComponentSet(logger);
  let loop: Loop;
  try {
    if (parts.lifecycle !== false) {
      const seams = parts.lifecycle ?? {};
      lifecycle = await createLifecycle({ config, db: database.db, logger, registry, defaultAgentUrl: () => agentUrlOf(http.url), ...seams });
    }
    const reconcilers = [...(lifecycle?.reconcilers ?? []), ...(parts.reconcilers ?? [])];
    loop = createLoop({ database, logger, registry, settings: config, reconcilers, leaderComponents: lifecycle?.leaderComponents });
    lifecycle?.bindSink(loop.runner);
    await components.start([http, loop.elector]);
  } catch (error) {
    await lifecycle?.close();
    await database.close();
    throw error;
  }
  logger.info({ url: http.url }, `toolbelt controller serving on ${http.url}`);
  let stopping: Promise<void> | undefined;
  return {
    url: http.url,
    database,
    http,
    loop,
    registry,
    lifecycle,
    stop() {
      stopping ??= (async () => {
        await components.stop();
        await lifecycle?.close();
        await database.close();
      })();
      return stopping;
    },
  };
}
