/**
 * What the controller's tests open that must not outlive them — child processes, agent hubs,
 * database pools, in-process controllers — registered here by the helpers that open them.
 * The shared leak check (setup.ts) closes whatever a test left open and fails that test.
 *
 * Something opened while a test runs (in the test or its beforeEach) must be closed by the
 * end of that test; something opened in a beforeAll, by the end of the file. Imports nothing
 * from vitest: benchmarks and child processes use the same helpers.
 */
import type { ChildProcess } from 'node:child_process';

interface Open {
  /** What it is, as the failure names it ("a controller process", "an agent hub"…). */
  what: string;
  close(): Promise<unknown>;
  /** Opened while a test ran (else in a beforeAll: checked when the file ends). */
  inTest: boolean;
  /** Closed without failing the test: the hub side closes these anyway (agent test sockets). */
  quiet: boolean;
  /** Already asked to stop (a child process signalled): given time to finish, not a leak. */
  stopping(): boolean;
  /** Resolves once it has stopped by itself. */
  stopped(): Promise<unknown>;
}

const open = new Set<Open>();
let testRunning = false;

/** How long something already stopping may take to finish before it is killed and counted. */
const STOPPING_GRACE_MS = 30_000;

/** Marks the start and the end of a test (setup.ts). */
export function testRunningNow(running: boolean): void {
  testRunning = running;
}

/**
 * Registers something open and `close` (which ends it however it is); returns the function
 * that forgets it — the helper calls that when it was closed the ordinary way.
 */
export function track(what: string, close: () => Promise<unknown>, options: { quiet?: boolean } = {}): () => void {
  const entry: Open = { what, close, inTest: testRunning, quiet: options.quiet ?? false, stopping: () => false, stopped: () => new Promise(() => {}) };
  open.add(entry);
  return () => open.delete(entry);
}

/**
 * Registers a child process: forgotten once it exits. Left running, it is killed with
 * SIGKILL and counted; already signalled (a test stopped it without waiting), it is given
 * time to exit first.
 */
export function trackChild<C extends ChildProcess>(child: C, what: string): C {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const entry: Open = {
    what,
    inTest: testRunning,
    quiet: false,
    close: () => (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), exited),
    stopping: () => child.killed,
    stopped: () => exited,
  };
  open.add(entry);
  void exited.then(() => open.delete(entry));
  return child;
}

/**
 * Ends what is still open — of the test that just ran (`test`) or of the whole file (`file`)
 * — and names what a test left: quiet entries and ones already stopping in time do not count.
 */
export async function closeLeftovers(scope: 'test' | 'file'): Promise<string[]> {
  const left = [...open].filter((entry) => scope === 'file' || entry.inTest);
  const names: string[] = [];
  await Promise.all(
    left.map(async (entry) => {
      open.delete(entry);
      if (entry.stopping() && (await finishes(entry.stopped(), STOPPING_GRACE_MS))) return;
      if (!entry.quiet) names.push(entry.what);
      await entry.close().catch(() => {});
    }),
  );
  return names.sort();
}

async function finishes(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const done = await Promise.race([promise.then(() => true), late]);
  clearTimeout(timer);
  return done;
}
