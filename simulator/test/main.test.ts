/**
 * The standalone simulator as a real child process: it prints its URL and token, serves the
 * API, and exits cleanly on SIGTERM; bad flags exit 2 with a message naming the flag.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const room = fileURLToPath(new URL('..', import.meta.url));
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
});

function run(args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: room, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

/** Collects stdout until `pattern` matches (or the process exits); keeps the pipe open. */
function readUntil(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += String(chunk);
      if (pattern.test(out)) resolve(out);
    });
    child.once('exit', () => resolve(out));
  });
}

describe('standalone simulator (src/main.ts)', () => {
  it('prints its /v2 URL and token, serves the API, and exits 0 on SIGTERM', async () => {
    const child = run(['--port', '0', '--speed', '100', '--boot-delay-ms', '1000-2000']);
    const out = await readUntil(child, /token: \S+\n/);
    const url = /url:\s+(http:\/\/127\.0\.0\.1:\d+\/v2)\n/.exec(out)?.[1];
    const token = /token: (dop_v1_sim_[0-9a-f]+)\n/.exec(out)?.[1];
    expect(url, out).toBeDefined();
    expect(token, out).toBeDefined();

    const ok = await fetch(`${url}/account`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('ratelimit-limit')).toBe('5000');
    expect((await fetch(`${url}/account`)).status).toBe(401);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });

  it('accepts a given token', async () => {
    const child = run(['--port', '0', '--token', 'dop_v1_given_token_123']);
    const out = await readUntil(child, /token: \S+\n/);
    expect(out).toContain('token: dop_v1_given_token_123');
    const url = /url:\s+(\S+)\n/.exec(out)![1];
    expect((await fetch(`${url}/regions`, { headers: { authorization: 'Bearer dop_v1_given_token_123' } })).status).toBe(200);
    child.kill('SIGINT');
    expect((await once(child, 'exit'))[0]).toBe(0);
  });

  it.each([
    [['--port', 'abc'], /--port: expected a whole number/],
    [['--speed', '-3'], /--speed/],
    [['--boot-delay-ms', '9-1'], /--boot-delay-ms/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
  ])('exits 2 with a clear message on bad flags %j', async (args, message) => {
    const child = run(args);
    let err = '';
    child.stderr!.on('data', (chunk) => (err += String(chunk)));
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(err).toMatch(message);
    expect(err).toContain('Usage:');
  });
});
