/**
 * A local DigitalOcean: API v2 over real HTTP with state, simulated time, rate limits and
 * injected faults, held to DigitalOcean's OpenAPI description (see docs/simulator.md).
 *
 *   const sim = await startSimulator({ clock: createScaledClock(100) });
 *   const client = createApiClient({ token: sim.token, endpoint: sim.url });
 *   ...
 *   await sim.close();
 */
import { once, setMaxListeners } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Clock } from '@toolbelt/schema/clock';
import { type FaultControl, FaultRegistry } from './faults.ts';
import { resolveOptions, type SimulatorOptions } from './options.ts';
import { createRandom } from './random.ts';
import { RateLimiter } from './ratelimit.ts';
import { Router } from './router.ts';
import { actionRoutes } from './routes/actions.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { dropletRoutes } from './routes/droplets.ts';
import { firewallRoutes } from './routes/firewalls.ts';
import { tagRoutes } from './routes/tags.ts';
import { createApiServer } from './server.ts';
import { createStateApi, type SimulatorState } from './state-api.ts';
import { SimState } from './state.ts';
import { SimulatorStats } from './stats.ts';

export type { DropletInfo, DropletStatus, HookError, ActionStatus } from './model.ts';
export type { Fault, FaultKind, FaultRule, FaultControl } from './faults.ts';
export type { DelaySpec } from './random.ts';
export type { RateLimits } from './ratelimit.ts';
export type { SimulatorHooks } from './hooks.ts';
export type { SimulatorOptions } from './options.ts';
export type { SimulatorState, ActionInfo } from './state-api.ts';
export type { SimulatorStats, Outcome } from './stats.ts';
export { DEFAULT_BOOT_DELAY_MS, DEFAULT_ACTION_DURATION_MS, DEFAULT_DROPLET_LIMIT } from './options.ts';
export { DIGITALOCEAN_RATE_LIMITS } from './ratelimit.ts';

/** A running simulator. */
export interface Simulator {
  /** The API base URL, e.g. `http://127.0.0.1:PORT/v2` (what dots-wrapper's `endpoint` takes). */
  readonly url: string;
  /** The bearer token the API accepts. */
  readonly token: string;
  readonly port: number;
  /** The clock the simulator runs on. */
  readonly clock: Clock;
  /** Look at and change the simulated account (vanish, holdInNew, setStatus, ...). */
  readonly state: SimulatorState;
  /** Add and remove request fault rules at run time. */
  readonly faults: FaultControl;
  /** Requests counted by `METHOD path-template outcome`. */
  readonly stats: SimulatorStats;
  /** Stops listening, ends open connections, stops timers and waits for running hooks. */
  close(): Promise<void>;
}

/** The router with every implemented DigitalOcean path. */
export function createRouter(): Router {
  const router = new Router();
  for (const add of [dropletRoutes, actionRoutes, tagRoutes, firewallRoutes, catalogRoutes]) add(router);
  return router;
}

/** Starts a simulator listening on `host:port` (default 127.0.0.1, any free port). */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const opts = resolveOptions(options);
  const random = createRandom(opts.seed);
  const state = new SimState({ ...opts, random });
  const faults = new FaultRegistry(random, opts.faults);
  const stats = new SimulatorStats();
  const closing = new AbortController();
  setMaxListeners(0, closing.signal); // one listener per delayed request
  let url = '';
  const server = createApiServer({
    state,
    router: createRouter(),
    limiter: opts.rateLimit ? new RateLimiter(opts.clock, opts.rateLimit) : undefined,
    faults,
    stats,
    tokens: opts.tokens,
    clock: opts.clock,
    closing: closing.signal,
    baseUrl: () => url,
  });
  server.listen(opts.port, opts.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  url = `http://${host}:${port}/v2`;
  let closed: Promise<void> | undefined;
  return {
    url,
    token: opts.token,
    port,
    clock: opts.clock,
    state: createStateApi(state),
    faults,
    stats,
    close() {
      closed ??= (async () => {
        closing.abort();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await stopped;
        await state.close();
      })();
      return closed;
    },
  };
}
export { createLocalDroplets, type LocalDropletHooks, type LocalDroplets, type LocalDropletsOptions } from './local-droplets.ts';
