/**
 * The console's browser tests run the real thing: the controller as its own process (as
 * `npm start` runs it: PGlite in a temporary directory, the embedded DigitalOcean simulator
 * with local droplets — real droplet agents), the console built by its build script, and
 * Debian's chromium driven by playwright-core. Nothing of the controller is imported: the
 * console's tests see it only over HTTP, as a browser does.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const CHROMIUM = process.env.TOOLBELT_CHROMIUM ?? '/usr/bin/chromium';
/**
 * Where screenshots go: docs/console/ when asked for (`TOOLBELT_SCREENSHOTS=1`, to refresh the
 * docs' pictures), else a scratch directory, so that a test run leaves the checkout clean.
 */
export const SHOTS = process.env.TOOLBELT_SCREENSHOTS === '1' ? join(REPO, 'docs', 'console') : join(tmpdir(), 'toolbelt-console-shots');

/** Whether the browser tests can run here; otherwise they skip loudly (and CI fails). */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const message = `SKIPPED: console browser tests need chromium at ${CHROMIUM} (bash scripts/install-chromium.sh)`;
  if (process.env.TOOLBELT_REQUIRE_ALL === '1') throw new Error(message);
  console.warn(message);
  return false;
}

/** Builds the console if its sources changed (as `npm start` does). */
export function buildConsole(): void {
  execFileSync(process.execPath, [join(REPO, 'console', 'scripts', 'build.mjs'), '--if-stale'], { stdio: 'inherit' });
}

export interface Controller {
  url: string;
  adminToken: string;
  lines: string[];
  /** A bearer call, for setting up what a test is not about (tokens, bulk data). */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  stop(): Promise<void>;
}

const FAST = {
  TOOLBELT_SIMULATOR_BOOT_MS: '300',
  TOOLBELT_SWEEP_FAST_MS: '300',
  TOOLBELT_SWEEP_STEADY_MS: '2000',
  TOOLBELT_CREATE_BATCH_WINDOW_MS: '50',
  TOOLBELT_AGENT_HEARTBEAT_MS: '2000',
  TOOLBELT_AGENT_SILENCE_GRACE_MS: '60000',
};

/** Starts `controller/src/main.ts server` on a free port with a fresh data directory. */
export async function startController(env: Record<string, string> = {}): Promise<Controller> {
  const dataDir = mkdtempSync(join(tmpdir(), 'toolbelt-console-'));
  const adminToken = `tb_${randomBytes(32).toString('base64url')}`;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'controller', 'src', 'main.ts'), 'server', '--port', '0', '--data-dir', dataDir], {
    cwd: REPO,
    env: { ...process.env, ...FAST, LOG_FORMAT: 'json', LOG_LEVEL: 'info', DATABASE_URL: '', TOOLBELT_ADMIN_TOKEN: adminToken, TOOLBELT_MASTER_KEY: randomBytes(32).toString('base64'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      let buffer = '';
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        buffer += chunk;
        const parts = buffer.split('\n');
        buffer = parts.pop()!;
        for (const line of parts) {
          lines.push(line);
          const match = /"url":"(http:\/\/[^"]+)".*toolbelt controller serving on/.exec(line);
          if (match) resolve(match[1]!);
        }
      });
    }
    void exited.then((code) => reject(new Error(`controller exited (${code}): ${lines.slice(-20).join('\n')}`)));
  });
  const call = async (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: `Bearer ${adminToken}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    url,
    adminToken,
    lines,
    call,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 20, retryDelay: 500 });
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
}

/** A page that records every console error and uncaught exception of the page. */
export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  errors: string[];
}

export async function openPage(browser: Browser, url: string, width = 1280): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width, height: width < 600 ? 844 : 900 }, baseURL: url });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return { context, page, errors };
}

/** Signs in through the sign-in page with `token`. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
}

const AXE = readFileSync(join(dirname(createRequire(import.meta.url).resolve('axe-core')), 'axe.min.js'), 'utf8');

/** Runs axe-core on the page; returns the serious and critical violations. */
export async function seriousViolations(page: Page): Promise<string[]> {
  // Evaluated over the DevTools protocol: the page's CSP (no inline script) does not apply.
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const result = await axe.run();
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.join(', ')}`);
}

/** Saves a screenshot into docs/console/ for docs/console.md. */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  // A modal's backdrop covers the viewport only: photograph dialogs without fullPage.
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: options.fullPage ?? true });
}
