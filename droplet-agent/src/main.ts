/**
 * The agent process: `node agent.mjs [--config PATH]` (the release), or the source under tsx. Parses the config,
 * starts the agent and stops it gracefully on SIGTERM/SIGINT — the tools keep running.
 * `--version` prints the version; `--watch-update INSTALL` is a self-update's watcher (update-trial.ts).
 * Exit codes: 0 stopped (or restarting into a new version), 1 bad config or fatal error.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ToolbeltError } from '@toolbelt/schema/errors';
import { Agent } from './agent.ts';
import { DEFAULT_CONFIG_PATH, loadAgentConfig } from './config.ts';
import { createLogger } from './log.ts';
import { watchUpdate } from './update-trial.ts';

/** This agent's version (in hello and heartbeats): a release carries it; the source reads package.json. */
export function agentVersion(): string {
  const released = (globalThis as { __toolbeltAgentVersion?: string }).__toolbeltAgentVersion;
  if (released) return released;
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

async function main(): Promise<void> {
  const log = createLogger();
  const { values } = parseArgs({
    options: { config: { type: 'string', default: DEFAULT_CONFIG_PATH }, version: { type: 'boolean' }, 'watch-update': { type: 'string' } },
  });
  if (values.version) {
    process.stdout.write(`${agentVersion()}\n`);
    return;
  }
  if (values['watch-update']) {
    const outcome = await watchUpdate(values['watch-update']);
    if (outcome === 'rolled_back') log.warn('a self-update said no hello in time: rolled back', { installDir: values['watch-update'] });
    return;
  }
  const config = await loadAgentConfig(values.config);
  let stopping: Promise<void> | undefined;
  const agent = new Agent({
    config,
    agentVersion: agentVersion(),
    log,
    onRestartRequested: () => void shutdown('restart for update'),
  });
  const shutdown = (why: string) => {
    stopping ??= (async () => {
      log.info('stopping; tools keep running', { why });
      await agent.stop();
      process.exit(0);
    })();
    return stopping;
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  await agent.start();
  log.info('agent started', { version: agentVersion(), controller: config.controllerUrl, stateDir: config.stateDir });
}

main().catch((error: unknown) => {
  const message = error instanceof ToolbeltError ? error.describe() : (error as Error).message;
  process.stderr.write(`${JSON.stringify({ at: new Date().toISOString(), level: 'error', message })}\n`);
  process.exit(1);
});
