/**
 * `toolbelt`: the command line of the controller. Global flags: `--server URL`
 * (TOOLBELT_SERVER, default http://127.0.0.1:8080), `--token T` (TOOLBELT_TOKEN; else the
 * admin token a local PGlite controller wrote to `<TOOLBELT_DATA_DIR>/admin-token`), and
 * `-o json|yaml`. Exit codes: 0 ok, 1 failed, 2 usage.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_TOKEN_FILE } from '../api/admin-token.ts';
import { ApiClient } from './client.ts';
import { applyCommand } from './commands/apply.ts';
import { callsCommand } from './commands/calls.ts';
import { describeCommand } from './commands/describe.ts';
import { eventsCommand, logsCommand } from './commands/events.ts';
import { gitopsCommand } from './commands/gitops.ts';
import { getCommand } from './commands/get.ts';
import { serverCommand, simulatorCommand } from './commands/processes.ts';
import { runControllerCommand } from '../run.ts';
import { deleteCommand, envCommand, secretsCommand, tokensCommand } from './commands/simple.ts';
import { CliError, type CliIo, type CommandContext, usageError } from './context.ts';

const HELP = `usage: toolbelt [--server URL] [--token TOKEN] [-o json|yaml] COMMAND

commands:
  apply -f FILE|DIR [--dry-run] [--prune] [--wait]   apply manifests (server-side diff)
  get agents|agent NAME|catalog|tools AGENT|environments|tokens
  describe agent NAME | tool AGENT/NAME              spec, status, conditions, events
  delete agent NAME | tool AGENT/NAME | catalog NAME
  env enable|disable AGENT [--region R] [--size S]   switch an agent's tool environment
  env retry AGENT                                     start over after BootFailed (operator)
  secrets set NAME --agent A [--from-file F]          value from stdin or a file, never an argument
  secrets list --agent A | secrets delete NAME --agent A
  secrets rotate-key [controller flags]               re-wrap every secret under the first master key
  events [--object KIND/ID] [--follow]                reconcile events
  logs AGENT [--follow]                               the events of an agent and its tools
  calls AGENT [--limit N]                             the agent's last MCP calls through the gateway
  gitops status | sync | history                      GitOps: status, sync now, the history of syncs
  tokens create NAME --role ROLE | list | revoke ID   API tokens (admin)
  tokens create NAME --role caller --agent AGENT      a token for one agent's MCP gateway (operator)
  server [flags] | migrate [flags]                    run the controller / migrate its database
  simulator [flags]                                   run the local DigitalOcean simulator

environment: TOOLBELT_SERVER, TOOLBELT_TOKEN (flags win). Exit codes: 0 ok, 1 failed, 2 usage.`;

/** A command resolves to its exit code; `undefined` means it sets its own (the simulator). */
type Command = (ctx: CommandContext) => Promise<void | number | undefined>;
const COMMANDS: Record<string, Command> = {
  apply: applyCommand,
  get: getCommand,
  describe: describeCommand,
  delete: deleteCommand,
  env: envCommand,
  // Rotation works on the database and the master keys directly, like `migrate`.
  secrets: (ctx) =>
    ctx.args[0] === 'rotate-key' ? runControllerCommand(['rotate-key', ...ctx.args.slice(1)], ctx.env) : secretsCommand(ctx),
  events: eventsCommand,
  logs: logsCommand,
  calls: callsCommand,
  gitops: gitopsCommand,
  tokens: tokensCommand,
  server: (ctx) => serverCommand(ctx, 'server'),
  migrate: (ctx) => serverCommand(ctx, 'migrate'),
  simulator: simulatorCommand,
};
/** Commands that take their own flags (the controller's), untouched by the global ones. */
const PASS_THROUGH = new Set(['server', 'migrate', 'simulator']);

interface Globals {
  server?: string;
  token?: string;
  output: 'table' | 'json' | 'yaml';
  help: boolean;
  rest: string[];
}

function setGlobal(globals: Globals, flag: string, value: string | undefined): void {
  if (value === undefined) throw usageError(`${flag} needs a value`);
  if (flag === '--server') globals.server = value;
  else if (flag === '--token') globals.token = value;
  else if (value === 'json' || value === 'yaml' || value === 'table') globals.output = value;
  else throw usageError(`-o ${value}: expected json, yaml or table`);
}

const VALUE_FLAGS = new Set(['--server', '--token', '-o', '--output']);

/** Takes the global flags out of argv (anywhere before a pass-through command's own flags). */
function takeGlobals(argv: string[]): Globals {
  const globals: Globals = { output: 'table', help: false, rest: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (globals.rest.length > 0 && PASS_THROUGH.has(globals.rest[0]!)) globals.rest.push(arg);
    else if (arg === '--help' || arg === '-h') globals.help = true;
    else if (VALUE_FLAGS.has(arg)) setGlobal(globals, arg, argv[(i += 1)]);
    else globals.rest.push(arg);
  }
  return globals;
}

function resolveToken(globals: Globals, env: CliIo['env']): string | undefined {
  if (globals.token) return globals.token;
  if (env.TOOLBELT_TOKEN) return env.TOOLBELT_TOKEN;
  const file = join(env.TOOLBELT_DATA_DIR ?? './.toolbelt/data', ADMIN_TOKEN_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

function context(io: CliIo, globals: Globals, args: string[], signal: AbortSignal): CommandContext {
  let client: ApiClient | undefined;
  const server = (globals.server ?? io.env.TOOLBELT_SERVER ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  return {
    ...io,
    args,
    output: globals.output,
    signal,
    client: () => (client ??= new ApiClient(server, resolveToken(globals, io.env))),
    print: (line = '') => void io.stdout.write(`${line}\n`),
  };
}

function report(io: CliIo, error: unknown): number {
  if (error instanceof CliError) {
    io.stderr.write(`error: ${error.message}\n${error.lines.map((l) => `${l}\n`).join('')}`);
    if (error.exitCode === 2 && !error.lines.some((l) => l.startsWith('usage:'))) io.stderr.write('run `toolbelt --help` for usage\n');
    return error.exitCode;
  }
  io.stderr.write(`error: ${(error as Error).message ?? String(error)}\n`);
  return 1;
}

/** Runs one CLI invocation; resolves to its exit code (undefined: the command set its own). */
export async function runCli(argv: string[], io: CliIo, signal: AbortSignal): Promise<number | undefined> {
  try {
    const globals = takeGlobals(argv);
    const [name, ...args] = globals.rest;
    if (globals.help || !name || name === 'help') {
      io.stdout.write(`${HELP}\n`);
      return name || globals.help ? 0 : 2;
    }
    const command = COMMANDS[name];
    if (!command) throw usageError(`unknown command "${name}"`);
    const code = await command(context(io, globals, args, signal));
    if (PASS_THROUGH.has(name) && code === undefined) return undefined;
    return typeof code === 'number' ? code : 0;
  } catch (error) {
    return report(io, error);
  }
}
