/**
 * Assembles a controller from its config: the database (migrated), the HTTP server with its
 * routes (health, the API, the package shelf), the agent hub, the droplet lifecycle, and the
 * leader elector with the reconcile loop under it (environment, orphans, firewall, tools).
 * `main` runs it; tests start it in-process. The parts are built in assembly.ts.
 */
import type { Reconciler } from '@toolbelt/reconcilers';
import { type Database, migrate, openDatabase } from '@toolbelt/schema';
import type { ApiOptions } from './api/api.ts';
import type { Api } from './api/api.ts';
import { openSecretStore } from './api/secret-setup.ts';
import { assemble } from './assembly.ts';
import type { Config } from './config.ts';
import type { HttpServer } from './http/server.ts';
import type { AgentHub, AgentHubOptions } from './hub/index.ts';
import type { Lifecycle, LifecycleOptions } from './lifecycle.ts';
import type { Logger } from './logger.ts';
import type { Loop } from './loop/assemble.ts';
import type { LocalDroplets } from '@toolbelt/simulator';
import type { Registry } from 'prom-client';

export interface RunningController {
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly database: Database;
  readonly http: HttpServer;
  readonly api: Api;
  /** The agent hub on `/agent/v1`: `sendCommand`, `isConnected`, `stats`. */
  readonly hub: AgentHub;
  /** The runner (enqueue keys here) and the elector (is this replica the leader?); undefined with `loop: false`. */
  readonly loop: Loop | undefined;
  /** The loop's and the lifecycle's metrics. */
  readonly registry: Registry;
  /** The droplet lifecycle (provider or embedded simulator, fleet cache, batcher), unless turned off. */
  readonly lifecycle: Lifecycle | undefined;
  /** The embedded simulator's droplets as real local agents, when they run. */
  readonly localDroplets: LocalDroplets | undefined;
  stop(): Promise<void>;
}

/** What callers may plug into a controller besides its config (the seams of its parts). */
export interface ControllerOptions {
  /** Told of API spec changes besides the loop (which is always told). */
  onSpecChange?: ApiOptions['onSpecChange'];
  secrets?: ApiOptions['secrets'];
  metrics?: ApiOptions['metrics'];
  clock?: ApiOptions['clock'];
  eventPollMs?: ApiOptions['eventPollMs'];
  eventStreams?: ApiOptions['eventStreams'];
  /** Where the one-time first admin token is printed (default: process.stderr). */
  stderr?: NodeJS.WritableStream;
  /** Hub options beyond the config: tunables; its secret resolver and event sink default to the tools work's. */
  hub?: Omit<AgentHubOptions, 'database' | 'http' | 'logger'>;
  /** Further reconcilers the loop runs. */
  reconcilers?: readonly Reconciler[];
  /**
   * Seams of the droplet lifecycle: `beforeDelete` (default: stop the tools), `simulatorHooks`
   * (default: local droplets when TOOLBELT_LOCAL_DROPLETS), `renderUserData`. `false` runs no
   * lifecycle at all.
   */
  lifecycle?: Pick<LifecycleOptions, 'beforeDelete' | 'simulatorHooks' | 'renderUserData'> | false;
  /** `false` runs no reconcile loop (and no lifecycle): the API and the hub only. */
  loop?: boolean;
  /** Retry backoff of failed tool commands (tests shorten it). */
  toolRetry?: { baseMs?: number; maxMs?: number };
}

/** Opens and migrates the database named by the config, saying which one it is. */
export async function openMigratedDatabase(config: Config, logger: Logger): Promise<Database> {
  if (!config.databaseUrl) {
    logger.info(
      { dataDir: config.dataDir },
      `using embedded PGlite in ${config.dataDir} (set DATABASE_URL to use a Postgres server)`,
    );
  }
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, schema: config.dbSchema });
  try {
    const result = await migrate(database.db);
    logger.info(
      { database: database.location, kind: database.kind, schema: database.schema, applied: result.applied, current: result.current },
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
export async function startController(config: Config, logger: Logger, options: ControllerOptions = {}): Promise<RunningController> {
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
 * Serves an open, migrated database: registers the first admin token, seeds the catalog,
 * then starts the HTTP server, the API, the hub and the loop. With `ownsDatabase`, stopping
 * (or failing to start) closes the database too; tests pass their own database and keep it.
 */
export async function serveDatabase(
  database: Database,
  setup: { config: Config; logger: Logger; options?: ControllerOptions; ownsDatabase: boolean },
): Promise<RunningController> {
  const { config, logger } = setup;
  const closeDatabase = () => (setup.ownsDatabase ? database.close() : Promise.resolve());
  let parts: Awaited<ReturnType<typeof assemble>>;
  try {
    parts = await assemble(database, { config, logger, options: setup.options ?? {} });
  } catch (error) {
    await closeDatabase();
    throw error;
  }
  logger.info({ url: parts.http.url }, `toolbelt controller serving on ${parts.http.url}`);
  let stopping: Promise<void> | undefined;
  return {
    url: parts.http.url,
    database,
    http: parts.http,
    api: parts.api,
    hub: parts.hub,
    loop: parts.loop,
    registry: parts.registry,
    lifecycle: parts.lifecycle,
    localDroplets: parts.localDroplets,
    stop() {
      stopping ??= (async () => {
        await parts.stop();
        await closeDatabase();
      })();
      return stopping;
    },
  };
}
