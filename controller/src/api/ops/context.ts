/**
 * The write path shared by the API routes and `apply`: every write runs in one transaction
 * (an ApiError thrown anywhere rolls it all back, so bad input changes nothing). Writers
 * announce their spec changes in that transaction (`announceAgentChange`,
 * `announceToolsChange` of `@toolbelt/schema`): Postgres delivers the NOTIFY on commit and
 * drops it on rollback — a dry run included — so a committed change is always announced and
 * a rolled-back one never is.
 */
import type { Db } from '@toolbelt/schema';
import type { Logger } from '../../logger.ts';
import type { ToolConfigValidator } from './tool-config.ts';

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
}

/** One transaction's view: the transaction itself and what the writes check against. */
export interface WriteContext {
  tx: Db;
  defaults: EnvironmentDefaults;
  configs: ToolConfigValidator;
}

/** Thrown to roll a transaction back on purpose (dry runs) while keeping its result. */
export class Rollback<T> extends Error {
  constructor(readonly result: T) {
    super('rolled back on purpose');
  }
}

/** Runs `fn` in a transaction; a dry run rolls it back and returns what it would have done. */
export async function write<T>(
  deps: WriteDeps,
  fn: (ctx: WriteContext) => Promise<T>,
  options: { dryRun?: boolean } = {},
): Promise<T> {
  try {
    return await deps.db.transaction(async (tx) => {
      const value = await fn({ tx: tx as unknown as Db, defaults: deps.defaults, configs: deps.configs });
      if (options.dryRun) throw new Rollback(value);
      return value;
    });
  } catch (error) {
    if (error instanceof Rollback) return error.result as T;
    throw error;
  }
}
