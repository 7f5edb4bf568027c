/**
 * Assembles a controller from its config: the database (migrated), the HTTP server with its
 * routes and the API, the leader elector with the reconcile loop under it, and the
 * components that later issues add. `main` runs it; tests start it in-process.
 */
import type { Reconciler } from '@toolbelt/reconcilers';
import { type Database, migrate, notifySpecChange, openDatabase } from '@toolbelt/schema';
import { Registry } from 'prom-client';
import { Api, type ApiOptions } from './api/api.ts';
import { ensureAdminToken } from './api/bootstrap.ts';
import { openSecretStore } from './api/secret-setup.ts';
import { ComponentSet } from './component.ts';
import type { Config } from './config.ts';
import { addHealthRoutes } from './http/health.ts';
import { Router } from './http/router.ts';
import { HttpServer } from './http/server.ts';
import { AgentHub, type AgentHubOptions } from './hub/index.ts';
import { createLifecycle, type Lifecycle, type LifecycleOptions } from './lifecycle.ts';
import type { Logger } from './logger.ts';
import { createLoop, type Loop } from './loop/assemble.ts';
import { stopToolsThroughHub } from './stop-tools.ts';

export interface RunningController {
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly database: Database;
  readonly http: HttpServer;
  readonly api: Api;
  /** The runner (enqueue keys here) and the elector (is this replica the leader?). */
  readonly loop: Loop;
  /** The loop's metrics (and, unless `metrics` was given, what /metrics serves). */
  readonly registry: Registry;
  /** The agent hub on `/agent/v1`: `sendCommand`, `isConnected`, `stats`. */
  readonly hub: AgentHub;
  /** The droplet lifecycle (provider or embedded simulator, fleet cache, batcher), unless turned off. */
  readonly lifecycle: Lifecycle | undefined;
  stop(): Promise<void>;
}

/** What callers may plug into a controller besides its config (the seams of the API). */
export interface ControllerOptions {
  onSpecChange?: ApiOptions['onSpecChange'];
  secrets?: ApiOptions['secrets'];
  metrics?: ApiOptions['metrics'];
  clock?: ApiOptions['clock'];
  eventPollMs?: ApiOptions['eventPollMs'];
  /** Where the one-time first admin token is printed (default: process.stderr). */
  stderr?: NodeJS.WritableStream;
  /** Further reconcilers the loop runs (besides the lifecycle's). */
  reconcilers?: readonly Reconciler[];
  /** Hub options beyond the config: clock, secret resolver, event sink, tunables. */
  hub?: Omit<AgentHubOptions, 'database' | 'http' | 'logger'>;
  /**
   * Seams of the droplet lifecycle: `beforeDelete` (default: stop the tools through the hub),
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

/**
 * Opens and migrates the database named by the config, opens the secret store it configures
 * (unless one is passed), then serves them (see `serveDatabase`).
 */
export async function startController(
  config: Config,
  logger: Logger,
  options: ControllerOptions = {},
): Promise<RunningController> {
  const database = await openMigratedDatabase(config, logger);
  let secrets: ControllerOptions['secrets'];
  try {
    secrets = options.secrets ?? (await openSecretStore(config, database.db, logger));
  } catch (error) {
    await database.close();
    throw error;
  }
  return serveDatabase(database, { config, logger, options: { ...options, secrets }, ownsDatabase: true });
}

/**
 * Serves an open, migrated database: registers the first admin token, then starts the HTTP
 * server with the health routes and the API. With `ownsDatabase`, stopping (or failing to
 * start) closes the database too; tests pass their own database and keep it.
 */
export async function serveDatabase(
  database: Database,
  setup: { config: Config; logger: Logger; options?: ControllerOptions; ownsDatabase: boolean },
): Promise<RunningController> {
  const { config, logger, options = {} } = setup;
  const closeDatabase = () => (setup.ownsDatabase ? database.close() : Promise.resolve());
  const router = new Router();
  addHealthRoutes(router, { db: database.db });
  const registry = new Registry();
  const http = new HttpServer({ host: config.host, port: config.port, router, logger });
  // The hub attaches to the HTTP server's upgrades; it refuses agents (503) until started.
  const hub = new AgentHub({ ...options.hub, database, http, logger: logger.child({ component: 'hub' }) });
  const components = new ComponentSet(logger);
  let lifecycle: Lifecycle | undefined;
  let loop: Loop;
  let api: Api;
  try {
    lifecycle = await startLifecycle({ database, config, logger, registry, options, hub, httpUrl: () => http.url });
    const reconcilers = [...(lifecycle?.reconcilers ?? []), ...(options.reconcilers ?? [])];
    loop = createLoop({ database, logger, registry, settings: config, reconcilers, leaderComponents: lifecycle?.leaderComponents });
    lifecycle?.bindSink(loop.runner);
    api = mountApi(router, { database, config, logger, registry, options });
    await ensureAdminToken({
      db: database.db,
      logger,
      adminToken: config.adminToken,
      dataDir: config.databaseUrl ? undefined : config.dataDir,
      ...(options.stderr ? { stderr: options.stderr } : {}),
    });
    // The API stops before the server, so that its open event streams end first.
    await components.start([http, hub, api, loop.elector]);
  } catch (error) {
    await lifecycle?.close();
    await closeDatabase();
    throw error;
  }
  logger.info({ url: http.url }, `toolbelt controller serving on ${http.url}`);
  let stopping: Promise<void> | undefined;
  return {
    url: http.url,
    database,
    http,
    api,
    loop,
    registry,
    hub,
    lifecycle,
    stop() {
      stopping ??= (async () => {
        await components.stop();
        await lifecycle?.close();
        await closeDatabase();
      })();
      return stopping;
    },
  };
}

/** The droplet lifecycle unless turned off; its tools are stopped through the hub by default. */
async function startLifecycle(setup: {
  database: Database;
  config: Config;
  logger: Logger;
  registry: Registry;
  options: ControllerOptions;
  hub: AgentHub;
  httpUrl: () => string;
}): Promise<Lifecycle | undefined> {
  const { database, config, logger, registry, options, hub } = setup;
  if (options.lifecycle === false) return undefined;
  const seams = options.lifecycle ?? {};
  return createLifecycle({
    config,
    db: database.db,
    logger,
    registry,
    defaultAgentUrl: () => agentUrlOf(setup.httpUrl()),
    beforeDelete: stopToolsThroughHub({ hub, db: database.db }),
    ...seams,
  });
}

/** The API on the router; committed spec changes reach the leader's loop by NOTIFY. */
function mountApi(
  router: Router,
  setup: { database: Database; config: Config; logger: Logger; registry: Registry; options: ControllerOptions },
): Api {
  const { database, config, logger, registry, options } = setup;
  const api = new Api({
    db: database.db,
    logger,
    defaults: { region: config.defaultRegion, size: config.defaultSize },
    onSpecChange: (kind, key) => notifySpecChange(database.db, { kind, key }),
    metrics: registry,
    ...options,
  });
  api.mount(router);
  return api;
}
