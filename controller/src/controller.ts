/**
 * Assembles a controller from its config: the database (migrated), the HTTP server with its
 * routes, and the components that later issues add. `main` runs it; tests start it in-process.
 */
import { type Database, migrate, openDatabase } from '@toolbelt/schema';
import { ComponentSet } from './component.ts';
import type { Config } from './config.ts';
import { addHealthRoutes } from './http/health.ts';
import { Router } from './http/router.ts';
import { HttpServer } from './http/server.ts';
import { AgentHub, type AgentHubOptions } from './hub/index.ts';
import type { Logger } from './logger.ts';

export interface RunningController {
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly database: Database;
  readonly http: HttpServer;
  /** The agent hub on `/agent/v1`: `sendCommand`, `isConnected`, `stats`. */
  readonly hub: AgentHub;
  stop(): Promise<void>;
}

/** What a caller (tests, benchmarks, later the loop and the secret store) adds to the config. */
export interface ControllerOptions {
  /** Hub options beyond the config: clock, secret resolver, event sink, tunables. */
  hub?: Omit<AgentHubOptions, 'database' | 'http' | 'logger'>;
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

export async function startController(config: Config, logger: Logger, options: ControllerOptions = {}): Promise<RunningController> {
  const database = await openMigratedDatabase(config, logger);
  const router = new Router();
  addHealthRoutes(router, { db: database.db });
  const http = new HttpServer({ host: config.host, port: config.port, router, logger });
  const components = new ComponentSet(logger);
  let hub: AgentHub;
  try {
    // The hub attaches to the HTTP server's upgrades; it refuses agents (503) until started.
    hub = new AgentHub({ ...options.hub, database, http, logger: logger.child({ component: 'hub' }) });
    await components.start([http, hub]);
  } catch (error) {
    await database.close();
    throw error;
  }
  logger.info({ url: http.url }, `toolbelt controller serving on ${http.url}`);
  let stopping: Promise<void> | undefined;
  return {
    url: http.url,
    database,
    http,
    hub,
    stop() {
      stopping ??= (async () => {
        await components.stop();
        await database.close();
      })();
      return stopping;
    },
  };
}
