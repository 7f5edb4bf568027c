/**
 * The lifecycle's `beforeDelete` through the agent hub: before an environment's droplet is
 * deleted, every tool instance on it is sent a `stop` command (graceful: the agent gives each
 * tool `stopTimeoutMs` before killing it) and the answers are awaited. An agent that is not
 * connected on any replica is not waited for — deleting the droplet stops its tools anyway.
 * A tool that does not confirm makes the hook throw; the reconciler records a Warning
 * (`StopToolsFailed`) and deletes the droplet regardless.
 */
import type { BeforeDelete } from '@toolbelt/reconcilers';
import { type Command, type Db, getAgentSession, listToolInstances, ToolbeltError } from '@toolbelt/schema';
import type { CommandInput } from './hub/commands.ts';

export interface StopToolsOptions {
  hub: { sendCommand(environmentId: string, command: CommandInput, options?: { timeoutMs?: number }): Promise<Command> };
  db: Db;
  /** How long each tool gets to stop on the droplet (default 20 s). */
  stopTimeoutMs?: number;
}

/** `beforeDelete` that stops the environment's tools through the hub's command seam. */
export function stopToolsThroughHub(options: StopToolsOptions): BeforeDelete {
  const stopTimeoutMs = options.stopTimeoutMs ?? 20_000;
  return async (env) => {
    const session = await getAgentSession(options.db, env.environmentId);
    if (!session?.hello_at || session.disconnected_at) return; // no agent to ask
    const tools = await listToolInstances(options.db, env.environmentId);
    const answers = await Promise.all(
      tools.map((tool) =>
        options.hub.sendCommand(
          env.environmentId,
          { commandType: 'stop', toolInstanceId: tool.id, generation: tool.generation, payload: { timeoutMs: stopTimeoutMs } },
          { timeoutMs: stopTimeoutMs + 10_000 },
        ),
      ),
    );
    const unconfirmed = answers.filter((command) => command.status !== 'done');
    if (unconfirmed.length > 0) {
      const which = unconfirmed.map((c) => `${c.tool_instance_id} (${c.status}${c.error_code ? `, ${c.error_code}` : ''})`).join(', ');
      throw new ToolbeltError('STOP_TOOLS_UNCONFIRMED', `${unconfirmed.length} of ${tools.length} tool(s) did not confirm the stop: ${which}`);
    }
  };
}
