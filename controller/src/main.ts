/**
 * The controller's entry point (`npm start`, `npm run migrate`): see run.ts for the commands.
 */
import { runControllerCommand } from './run.ts';

process.exitCode = await runControllerCommand(process.argv.slice(2), process.env);
