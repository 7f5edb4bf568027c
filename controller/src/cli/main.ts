/**
 * The `toolbelt` binary's entry point (bin/toolbelt.mjs loads it through tsx).
 */
import { runCli } from './cli.ts';

const abort = new AbortController();
const interrupt = () => abort.abort();
process.once('SIGINT', interrupt);
process.once('SIGTERM', interrupt);
const [command] = process.argv.slice(2).filter((a) => !a.startsWith('-'));
// `server` installs its own signal handling; leave the signals to it.
if (command === 'server') {
  process.off('SIGINT', interrupt);
  process.off('SIGTERM', interrupt);
}
const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
const code = await runCli(process.argv.slice(2), io, abort.signal);
if (code !== undefined) process.exitCode = code;
process.off('SIGINT', interrupt);
process.off('SIGTERM', interrupt);
