/**
 * Stops every running tool of an environment through the command seam and waits (bounded)
 * for the agent's answers: the lifecycle's `beforeDelete`, so tools end gracefully (SIGTERM,
 * then SIGKILL after the timeout) before their droplet is deleted.
 */
import { type DbOrTx, enqueueCommand, FINAL_COMMAND_STATUSES, getAgentSession, getCommand, listToolObservations } from '@toolbelt/schema';
import { systemClock } from '@toolbelt/schema/clock';
import { toolStatusReportSchema } from '@toolbelt/schema/protocol';

export interface StopToolsOptions {
  /** How long each tool gets to stop before the agent kills it (default 10 s). */
  stopTimeoutMs?: number;
  /** How long to wait for all answers (default stopTimeoutMs + 5 s). */
  waitMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
}

const LIVE = new Set(['running', 'starting', 'crash_loop', 'stopping']);

/** Waits `ms`, or less when `signal` aborts (its listener goes with the wait: polls do not pile up). */
const sleep = (ms: number, signal?: AbortSignal) => systemClock.sleep(ms, signal).catch(() => {});

/** Sends `stop` for each tool the agent reports alive; returns the command ids. */
async function sendStops(db: DbOrTx, environmentId: string, stopTimeoutMs: number): Promise<string[]> {
  const ids: string[] = [];
  for (const row of await listToolObservations(db, environmentId)) {
    const report = toolStatusReportSchema.safeParse(row.report);
    if (!report.success || !LIVE.has(report.data.state)) continue;
    const sent = await enqueueCommand(db, {
      environmentId,
      commandType: 'stop',
      toolInstanceId: row.tool_instance_id,
      generation: report.data.generation,
      payload: { timeoutMs: stopTimeoutMs },
      timeoutMs: stopTimeoutMs + 5_000,
    });
    if (sent.kind === 'ok') ids.push(sent.value.command.id);
  }
  return ids;
}

/** Waits for one command's final status until the deadline; true when it is `done`. */
async function settled(db: DbOrTx, id: string, deadline: number, options: StopToolsOptions): Promise<boolean> {
  for (;;) {
    const command = await getCommand(db, id);
    if (!command || FINAL_COMMAND_STATUSES.includes(command.status)) return command?.status === 'done';
    if (Date.now() >= deadline || options.signal?.aborted) return false;
    await sleep(options.pollMs ?? 100, options.signal);
  }
}

/** Sends `stop` for each live tool and waits for the answers; returns how many stopped. */
export async function stopEnvironmentTools(db: DbOrTx, environmentId: string, options: StopToolsOptions = {}): Promise<{ asked: number; stopped: number }> {
  const session = await getAgentSession(db, environmentId);
  if (!session || session.disconnected_at !== null) return { asked: 0, stopped: 0 };
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const ids = await sendStops(db, environmentId, stopTimeoutMs);
  const deadline = Date.now() + (options.waitMs ?? stopTimeoutMs + 5_000);
  let stopped = 0;
  for (const id of ids) if (await settled(db, id, deadline, options)) stopped += 1;
  return { asked: ids.length, stopped };
}
