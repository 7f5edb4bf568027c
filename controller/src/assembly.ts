/**
 * Builds and starts the controller's parts (see controller.ts) and says how to stop them:
 * components stop in reverse start order (the elector and its loop first, the HTTP server
 * last), then the lifecycle's connections, then the local droplets' agents and tools.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createToolsReconciler } from '@toolbelt/reconcilers';
import type { Database } from '@toolbelt/schema';
import { createLocalDroplets, type LocalDroplets, type SimulatorHooks } from '@toolbelt/simulator';
import { Registry } from 'prom-client';
import { Api } from './api/api.ts';
import { ensureAdminToken } from './api/admin-token.ts';
import { type Component, ComponentSet } from './component.ts';
import type { Config } from './config.ts';
import type { ControllerOptions } from './controller.ts';
import { addHealthRoutes } from './http/health.ts';
import { Router } from './http/router.ts';
import { HttpServer } from './http/server.ts';
import { AgentHub } from './hub/index.ts';
import { AgentReleases } from './agent-releases.ts';
import { createLifecycle, type Lifecycle } from './lifecycle.ts';
import { toolHostIp } from './lifecycle-config.ts';
import { registerControllerMetrics } from './metrics.ts';
import type { Logger } from './logger.ts';
import { createLoop, type Loop } from './loop/assemble.ts';
import { PackageShelf } from './catalog/package-shelf.ts';
import { seedCatalogTools } from './catalog/seed.ts';
import { ToolsWiring } from './tools/wiring.ts';

interface Setup {
  config: Config;
  logger: Logger;
  options: ControllerOptions;
}

/** The agents' URL on this server (`ws://…/agent/v1`), loopback for a wildcard bind. */
export function agentUrlOf(httpUrl: string): string {
  const url = new URL(httpUrl);
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = '127.0.0.1';
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = '/agent/v1';
  return url.toString();
}

/** The HTTP base droplets reach this controller at: from TOOLBELT_AGENT_URL, else the server's. */
export function publicHttpUrl(config: Config, serverUrl: string): string {
  const url = new URL(config.agentUrl ?? agentUrlOf(serverUrl));
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = '';
  return url.toString().replace(/\/$/, '');
}

/** Where local state goes: the data dir, or a fresh temporary one for an in-memory database. */
function stateDir(config: Config, name: string): string {
  if (config.dataDir.startsWith('memory://')) return mkdtempSync(join(tmpdir(), `toolbelt-${name}-`));
  // Absolute: `npm pack` and the local droplets' agents run in other working directories.
  return resolve(config.dataDir, name);
}

/** Local droplets for the embedded simulator, when asked for and no real DigitalOcean is used. */
function localDropletsOf({ config, logger }: Setup): LocalDroplets | undefined {
  if (!config.localDroplets || config.digitaloceanToken) return undefined;
  const log = logger.child({ component: 'local-droplets' });
  return createLocalDroplets({
    root: stateDir(config, 'droplets'),
    runtimes: config.localDockerSocket ? ['process', 'docker'] : ['process'],
    ...(config.localDockerSocket ? { dockerSocket: config.localDockerSocket } : {}),
    log: (line) => log.info(line),
  });
}

function hooksOf(local: LocalDroplets | undefined): SimulatorHooks | undefined {
  if (!local) return undefined;
  return {
    onBoot: (d) => local.onBoot(d),
    onDelete: (d) => local.onDelete(d),
    onStatusChange: (d, from) => local.onStatusChange(d, from),
    onRestart: (d) => local.onRestart(d),
    publicIpv4: (d) => local.publicIpv4(d),
  };
}

export interface Parts {
  http: HttpServer;
  api: Api;
  hub: AgentHub;
  loop: Loop | undefined;
  registry: Registry;
  lifecycle: Lifecycle | undefined;
  localDroplets: LocalDroplets | undefined;
  stop(): Promise<void>;
}

interface Built {
  router: Router;
  http: HttpServer;
  api: Api;
  hub: AgentHub;
  wiring: ToolsWiring;
  shelf: PackageShelf;
  releases: AgentReleases;
}

function buildServing(database: Database, setup: Setup, registry: Registry): Built {
  const { config, logger, options } = setup;
  const router = new Router();
  addHealthRoutes(router, { db: database.db });
  const wiring = new ToolsWiring({ db: database.db, logger: logger.child({ component: 'tools' }), secrets: options.secrets });
  const onSpecChange = (kind: string, key: string) => {
    options.onSpecChange?.(kind as never, key);
    wiring.onSpecChange(kind, key);
  };
  const { onSpecChange: _ignored, hub: hubOptions, ...apiOptions } = options;
  const api = new Api({
    db: database.db,
    logger,
    defaults: { region: config.defaultRegion, size: config.defaultSize },
    ...apiOptions,
    ...(options.secrets ? { secrets: wiring.watchSecrets(options.secrets) } : {}),
    metrics: options.metrics ?? registry,
    onSpecChange,
  });
  api.mount(router);
  const http = new HttpServer({ host: config.host, port: config.port, router, logger });
  const shelf = new PackageShelf({ dir: stateDir(config, 'packages'), logger, publicUrl: () => publicHttpUrl(config, http.url) });
  shelf.mount(router);
  const releases = new AgentReleases({
    ...(config.agentReleasesDir ? { dir: config.agentReleasesDir } : {}),
    ...(config.agentVersion ? { version: config.agentVersion } : {}),
    publicUrl: () => publicHttpUrl(config, http.url),
    logger: logger.child({ component: 'agent-releases' }),
  });
  releases.mount(router);
  const onAgentEvent = hubOptions?.onAgentEvent;
  const hub = new AgentHub({
    heartbeatIntervalMs: config.agentHeartbeatMs,
    ...hubOptions,
    ...(options.clock ? { clock: options.clock } : {}),
    secrets: hubOptions?.secrets ?? wiring.resolveSecrets,
    onAgentEvent: (event) => {
      onAgentEvent?.(event);
      wiring.onAgentEvent(event);
    },
    database,
    http,
    logger: logger.child({ component: 'hub' }),
  });
  return { router, http, api, hub, wiring, shelf, releases };
}

async function buildLifecycle(database: Database, setup: Setup, built: Built, registry: Registry) {
  const { config, logger, options } = setup;
  if (options.lifecycle === false) return { lifecycle: undefined, localDroplets: undefined };
  const seams = options.lifecycle ?? {};
  const localDroplets = seams.simulatorHooks ? undefined : localDropletsOf(setup);
  const simulatorHooks = seams.simulatorHooks ?? hooksOf(localDroplets);
  const lifecycle = await createLifecycle({
    config,
    db: database.db,
    logger,
    registry,
    defaultAgentUrl: () => agentUrlOf(built.http.url),
    agentRelease: () => built.releases.pin()!,
    beforeDelete: seams.beforeDelete ?? built.wiring.beforeDelete,
    ...(seams.renderUserData ? { renderUserData: seams.renderUserData } : {}),
    ...(simulatorHooks ? { simulatorHooks } : {}),
  });
  return { lifecycle, localDroplets };
}

async function buildLoop(database: Database, setup: Setup, built: Built, registry: Registry) {
  const { config, logger, options } = setup;
  if (options.loop === false) return { loop: undefined, lifecycle: undefined, localDroplets: undefined };
  const { lifecycle, localDroplets } = await buildLifecycle(database, setup, built, registry);
  const tools = createToolsReconciler({
    resolvePackage: await built.shelf.resolver(),
    toolHostIp: toolHostIp(config),
    ...(options.toolRetry ? { retry: options.toolRetry } : {}),
  });
  const reconcilers = [...(lifecycle?.reconcilers ?? []), tools, ...(options.reconcilers ?? [])];
  const loop = createLoop({ database, logger, registry, settings: config, reconcilers, leaderComponents: lifecycle?.leaderComponents, clock: options.clock });
  lifecycle?.bindSink(loop.runner);
  built.wiring.bindSink(loop.runner);
  return { loop, lifecycle, localDroplets };
}

/** Builds every part and starts the components; on failure, undoes what was started. */
export async function assemble(database: Database, setup: Setup): Promise<Parts> {
  const { config, logger, options } = setup;
  const registry = new Registry();
  const built = buildServing(database, setup, registry);
  const components = new ComponentSet(logger);
  let looped: Awaited<ReturnType<typeof buildLoop>> = { loop: undefined, lifecycle: undefined, localDroplets: undefined };
  const close = async () => {
    await looped.lifecycle?.close();
    await looped.localDroplets?.stopAll();
  };
  try {
    await ensureAdminToken({
      db: database.db,
      logger,
      adminToken: config.adminToken,
      dataDir: config.databaseUrl ? undefined : config.dataDir,
      ...(options.stderr ? { stderr: options.stderr } : {}),
    });
    if (config.seedCatalog) {
      const echoVersion = (await built.shelf.list()).get('@toolbelt/echo-mcp')?.version ?? '1.0.0';
      await seedCatalogTools(database.db, logger, echoVersion, { localDroplets: config.localDroplets && !config.digitaloceanToken });
    }
    await built.releases.load();
    looped = await buildLoop(database, setup, built, registry);
    registerControllerMetrics(registry, { db: database.db, hub: built.hub, provider: looped.lifecycle?.provider });
    // Stopped in reverse: the loop first, then the hub, the API (its event streams), the server.
    const started: Component[] = [built.http, built.api, built.hub, ...(looped.loop ? [looped.loop.elector] : [])];
    await components.start(started);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    http: built.http,
    api: built.api,
    hub: built.hub,
    registry,
    ...looped,
    async stop() {
      await components.stop();
      await close();
    },
  };
}
