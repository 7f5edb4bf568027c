/**
 * The controller's commands, shared by `npm start` (main.ts) and `toolbelt server` /
 * `toolbelt migrate` (the CLI): `server` runs the controller until SIGTERM/SIGINT;
 * `migrate` applies the database migrations and exits. Exit codes: 0 ok, 1 failed, 2 usage.
 */
import { ToolbeltError } from '@toolbelt/schema';
import { ConfigError, type Config, parseConfig, requireSharedMasterKey } from './config.ts';
import { openMigratedDatabase, startController } from './controller.ts';
import { keyringOf } from './api/secret-setup.ts';
import { createLogger, type Logger } from './logger.ts';
import { rotateMasterKey } from './secrets/index.ts';

const USAGE = 'usage: toolbelt server|migrate|rotate-key [--port N] [--host H] [--data-dir DIR] [--database-url URL]';
const COMMANDS = new Set(['server', 'migrate', 'rotate-key']);
/** The commands that use the secrets master key: refused before they open the database without one they may use. */
const KEY_COMMANDS = new Set(['server', 'rotate-key']);

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

/**
 * Re-wraps every secret's data key under the current master key (the first of
 * TOOLBELT_MASTER_KEY / the key file), then exits: 0 when all moved, 1 when some could not
 * be unwrapped (each is logged by agent and name). Keep the old key after the new one until
 * this has run; then it can go.
 */
async function rotateKey(config: Config, logger: Logger): Promise<number> {
  const database = await openMigratedDatabase(config, logger);
  try {
    if (config.secretsBackend === 'vault') {
      logger.info('secrets are kept in Supabase Vault, which manages its own keys: nothing to rotate');
      return 0;
    }
    const { keyring, origin } = keyringOf(config);
    const result = await rotateMasterKey(database.db, keyring);
    for (const failure of result.failed) {
      logger.error({ agentId: failure.agentId, name: failure.name, reason: failure.reason }, 'could not re-wrap a secret');
    }
    logger.info(
      { rewrapped: result.rewrapped, failed: result.failed.length, keyId: keyring.current.id, origin },
      `re-wrapped ${result.rewrapped} secret(s) under master key ${keyring.current.id}`,
    );
    return result.failed.length > 0 ? 1 : 0;
  } finally {
    await database.close();
  }
}

function fail(logger: Logger, error: unknown): number {
  if (error instanceof ToolbeltError) {
    logger.fatal({ code: error.code, hint: error.hint }, error.describe());
    return error instanceof ConfigError ? 2 : 1;
  }
  logger.fatal({ err: error }, 'the controller failed');
  return 1;
}

/** Runs `server` (the default), `migrate` or `rotate-key` with flags over `env`; resolves to the exit code. */
export async function runControllerCommand(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  const [command = 'server', ...rest] = argv[0]?.startsWith('-') ? ['server', ...argv] : argv;
  let config: Config;
  try {
    config = parseConfig(rest, env);
    if (KEY_COMMANDS.has(command)) requireSharedMasterKey(config);
  } catch (error) {
    const logger = createLogger({ logLevel: 'info', logFormat: 'auto' }, process.stderr);
    return fail(logger, error);
  }
  const logger = createLogger(config);
  if (!COMMANDS.has(command)) {
    logger.fatal(`unknown command "${command}"; ${USAGE}`);
    return 2;
  }
  try {
    if (command === 'rotate-key') return await rotateKey(config, logger);
    await (command === 'server' ? serve(config, logger) : migrateOnly(config, logger));
    return 0;
  } catch (error) {
    return fail(logger, error);
  }
}
