/**
 * Commands that run a process rather than call the API: `server` and `migrate` (exactly
 * what `npm start` and `npm run migrate` run), and `simulator` (the local DigitalOcean of
 * the simulator package, when this checkout has it).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runControllerCommand } from '../../run.ts';
import { CliError, type CommandContext } from '../context.ts';

/** Where the simulator package's entry point lives in this repository. */
export const SIMULATOR_MAIN = fileURLToPath(new URL('../../../../simulator/src/main.ts', import.meta.url));

export async function serverCommand(ctx: CommandContext, command: 'server' | 'migrate'): Promise<number> {
  return runControllerCommand([command, ...ctx.args], ctx.env);
}

/** Runs the simulator in this process; it sets its own exit code, so this returns none. */
export async function simulatorCommand(ctx: CommandContext): Promise<undefined> {
  if (!existsSync(SIMULATOR_MAIN)) {
    throw new CliError(`the simulator is not part of this checkout (${SIMULATOR_MAIN} is missing)`, 1, [
      'hint: it arrives with the simulator package; until then run a controller with `toolbelt server`',
    ]);
  }
  // The simulator's main reads its own arguments from process.argv.
  process.argv = [process.argv[0]!, SIMULATOR_MAIN, ...ctx.args];
  await import(pathToFileURL(SIMULATOR_MAIN).href);
  return undefined;
}
