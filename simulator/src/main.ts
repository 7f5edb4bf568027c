/**
 * The standalone simulator: `npm run simulator -- --port 9090`. Prints the API base URL
 * (ending in /v2) and the token it accepts, then serves until SIGINT or SIGTERM.
 * Exit codes: 0 after a signal, 1 when it cannot start, 2 on bad flags.
 */
import { ToolbeltError } from '@toolbelt/schema/errors';
import { parseCli, USAGE } from './cli.ts';
import { startSimulator } from './index.ts';

async function main(): Promise<void> {
  // Whoever started us may stop reading our output; that must not stop the simulator.
  process.stdout.on('error', () => undefined);
  const cli = parseCli(process.argv.slice(2));
  if (cli.kind === 'help') {
    console.log(USAGE);
    return;
  }
  if (cli.kind === 'error') {
    console.error(`simulator: ${cli.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  let simulator;
  try {
    simulator = await startSimulator(cli.options);
  } catch (error) {
    const message = error instanceof ToolbeltError ? error.describe() : (error as Error).message;
    console.error(`simulator: cannot start: ${message}`);
    process.exitCode = 1;
    return;
  }
  // This token only opens the local simulator, and printing it is how a user learns it.
  console.log(`DigitalOcean simulator listening\nurl:   ${simulator.url}\ntoken: ${simulator.token}`);
  const stop = (signal: NodeJS.Signals) => {
    console.log(`simulator: ${signal}, closing`);
    void simulator.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
