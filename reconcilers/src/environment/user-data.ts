/**
 * user_data for a batch of droplets: ONE enrollment token for the batch, bound to each of its
 * environments by its own row (`issueBatchEnrollmentToken`), rendered into the cloud-init
 * bootstrap (`renderAgentUserData` of `@toolbelt/schema/protocol`, the agent's install). The
 * agent presents the token and its droplet's name (`tb-<envId>`); the hub spends only that
 * environment's row, once. No other secret ever goes into user_data.
 */
import { type Clock, type Db, issueBatchEnrollmentToken, ToolbeltError } from '@toolbelt/schema';
import { MAX_USER_DATA_BYTES } from '../provider/droplets.ts';
import type { BatchUserData } from './batcher.ts';

/** Renders the cloud-init document carrying one enrollment token. */
export type RenderUserData = (input: { enrollmentToken: string; environmentIds: readonly string[] }) => string;

export interface EnrollmentUserDataOptions {
  db: Db;
  clock: Clock;
  render: RenderUserData;
  /** How long the token stays valid (default: the store's, 2 h — a slow boot plus margin). */
  ttlMs?: number;
}

/** The batcher's user_data: a batch enrollment token, rendered. Refuses documents over 64 KiB. */
export function enrollmentUserData(options: EnrollmentUserDataOptions): BatchUserData {
  return async (envIds, signal) => {
    signal.throwIfAborted();
    const issued = await issueBatchEnrollmentToken(options.db, envIds, {
      now: new Date(options.clock.now()),
      ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
    });
    const document = options.render({ enrollmentToken: issued.token, environmentIds: envIds });
    const bytes = Buffer.byteLength(document, 'utf8');
    if (bytes > MAX_USER_DATA_BYTES) {
      throw new ToolbeltError('USER_DATA_TOO_LARGE', `the droplet user_data is ${bytes} bytes; DigitalOcean takes at most 64 KiB`, {
        hint: 'shrink the cloud-init template in deploy/ (install from a URL instead of embedding files)',
      });
    }
    return document;
  };
}
