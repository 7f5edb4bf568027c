/**
 * The controller's commands, shared by `npm start` (main.ts) and `toolbelt server` /
 * `toolbelt migrate` (the CLI): `server` runs the controller until SIGTERM/SIGINT;
 * `migrate` applies the database migrations and exits. Exit codes: 0 ok, 1 failed, 2 usage.
 */
import { ToolbeltError } from '@toolbelt/schema';
import { ConfigError, type Config, parseConfig } from './config.ts';
import { openMigratedDatabase, startController } from './controller.ts';
import { createLogger, type Logger } from './logger.ts';

const USAGE = 'usage: toolbelt server|migrate [--port N] [--host H] [--data-dir DIR] [--database-url URL]';

async function serve(config: Config, logger: Logger): Promise<void> {
  // Listen for the signals before starting, so that one arriving while the controller is
  // still starting (just after it said it serves) stops it cleanly instead of killing it.
  const signalled = new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  const controller = await startController(config, logger);
  await signalled;
  await controller.stop();
  logger.info('stopped');
}

async function migrateOnly(config: Config, logger: Logger): Promise<void> {
  const database = await openMigratedDatabase(config, logger);
  await database.close();
}

function fail(logger: Logger, error: unknown): number {
  if (error instanceof ToolbeltError) {
    logger.fatal({ code: error.code, hint: error.hint }, error.describe());
    return error instanceof ConfigError ? 2 : 1;
  }
  logger.fatal({ err: error }, 'the controller failed');
  return 1;
}

/** Runs `server` (the default) or `migrate` with flags over `env`; resolves to the exit code. */
export async function runControllerCommand(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  const [command = 'server', ...rest] = argv[0]?.startsWith('-') ? ['server', ...argv] : argv;
  let config: Config;
  try {
    config = parseConfig(rest, env);
  } catch (error) {
    const logger = createLogger({ logLevel: 'info', logFormat: 'auto' }, process.stderr);
    return fail(logger, error);
  }
  const logger = createLogger(config);
  if (command !== 'server' && command !== 'migrate') {
    logger.fatal(`unknown command "${command}"; ${USAGE}`);
    return 2;
  }
  try {
    await (command === 'server' ? serve(config, logger) : migrateOnly(config, logger));
    return 0;
  } catch (error) {
    return fail(logger, error);
  }
}
