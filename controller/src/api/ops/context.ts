/**
 * The write path shared by the API routes and `apply`: every write runs in one transaction
 * (an ApiError thrown anywhere rolls it all back, so bad input changes nothing), collects the
 * spec changes it made, and only after the commit tells the reconciler about them.
 */
import type { Db } from '@toolbelt/schema';
import type { Logger } from '../../logger.ts';
import type { ToolConfigValidator } from './tool-config.ts';

/**
 * What a reconciler must hear about after a committed spec write:
 * - `environment`, keyed by **agent id** — the agent's switch, its environment's region,
 *   size or image, or the agent's deletion;
 * - `tool`, keyed by **tool instance id** — a tool added, reconfigured, re-versioned,
 *   started/stopped, or marked for removal.
 */
export interface SpecChange {
  kind: 'environment' | 'tool';
  key: string;
}

/** Called once per distinct change after its transaction committed; errors are logged, not thrown. */
export type OnSpecChange = (kind: SpecChange['kind'], key: string) => void | Promise<void>;

/** Region, size and image given to an environment created without them. */
export interface EnvironmentDefaults {
  region: string;
  size: string;
}

/** What the write functions need, besides the transaction. */
export interface WriteDeps {
  db: Db;
  logger: Logger;
  defaults: EnvironmentDefaults;
  configs: ToolConfigValidator;
  onSpecChange: OnSpecChange;
}

/** One transaction's view: the transaction itself and the changes it made so far. */
export interface WriteContext {
  tx: Db;
  changes: SpecChange[];
  defaults: EnvironmentDefaults;
  configs: ToolConfigValidator;
}

/** Thrown to roll a transaction back on purpose (dry runs) while keeping its result. */
export class Rollback<T> extends Error {
  constructor(readonly result: T) {
    super('rolled back on purpose');
  }
}

/** Runs `fn` in a transaction and then announces its spec changes (not for a dry run). */
export async function write<T>(
  deps: WriteDeps,
  fn: (ctx: WriteContext) => Promise<T>,
  options: { dryRun?: boolean } = {},
): Promise<T> {
  const changes: SpecChange[] = [];
  let result: T;
  try {
    result = await deps.db.transaction(async (tx) => {
      const value = await fn({ tx: tx as unknown as Db, changes, defaults: deps.defaults, configs: deps.configs });
      if (options.dryRun) throw new Rollback(value);
      return value;
    });
  } catch (error) {
    if (error instanceof Rollback) return error.result as T;
    throw error;
  }
  await announce(deps, changes);
  return result;
}

async function announce(deps: WriteDeps, changes: SpecChange[]): Promise<void> {
  const seen = new Set<string>();
  for (const change of changes) {
    const id = `${change.kind}/${change.key}`;
    if (seen.has(id)) continue;
    seen.add(id);
    try {
      await deps.onSpecChange(change.kind, change.key);
    } catch (error) {
      // The write is committed; the periodic resync will pick the change up regardless.
      deps.logger.warn({ err: error, kind: change.kind, key: change.key }, 'spec change listener failed');
    }
  }
}
