/**
 * The console in a real browser: Debian's chromium, driven by playwright-core, against a
 * real controller process with local droplets (real droplet agents, real tools) — through the
 * UI only. Waits are on visible UI states (auto-waiting locators with generous timeouts),
 * never on sleeps: the machine that runs this may be slow and busy.
 *
 * Every page and dialog is checked by axe-core (no serious or critical violations), the
 * browser console must stay free of errors (the few refusals a step provokes on purpose are
 * named where they happen), and each page is photographed at 1280 and 390 px into
 * docs/console/ for docs/console.md.
 */
import { createHash } from 'node:crypto';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import {
  browserAvailable,
  buildConsole,
  type Controller,
  launchBrowser,
  openPage,
  screenshot,
  seriousViolations,
  signIn,
  startController,
  type WatchedPage,
} from './harness.ts';

/** How long a UI state may take to appear: a droplet boots and installs a tool on a busy 2-core machine. */
const SLOW = 240_000;
const UI = 30_000;

/** The browser's console errors, less those a step provoked on purpose (`expected`). */
function unexpectedErrors(watched: WatchedPage, expected: RegExp[] = []): string[] {
  return watched.errors.filter((e) => !expected.some((pattern) => pattern.test(e)));
}

/** A refused request the page made on purpose: chromium logs every 4xx answer as a console error. */
const refused = (status: number) => new RegExp(`Failed to load resource: the server responded with a status of ${status}`);

async function noSeriousViolations(page: Page, where: string): Promise<void> {
  expect(await seriousViolations(page), `axe on ${where}`).toEqual([]);
}

/** Whether `region`'s table scrolls sideways inside its card instead of squeezing or overflowing the page. */
async function layoutAt390(page: Page): Promise<{ pageOverflow: number; squeezed: string[] }> {
  return page.evaluate(() => {
    const pageOverflow = document.documentElement.scrollWidth - document.documentElement.clientWidth;
    const squeezed: string[] = [];
    for (const wrap of Array.from(document.querySelectorAll<HTMLElement>('.table-wrap'))) {
      for (const row of Array.from(wrap.querySelectorAll('tbody tr'))) {
        // A row taller than four lines of text is a squeezed row.
        if (row.getBoundingClientRect().height > 110) squeezed.push(`${wrap.closest('section,article')?.querySelector('h1,h2,h3')?.textContent ?? '?'}: ${row.textContent?.slice(0, 60)}`);
      }
    }
    return { pageOverflow, squeezed };
  });
}

/** Visits a page by its navigation link (no reload) and waits for its heading. */
async function visit(page: Page, link: string, heading: string | RegExp): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link, exact: true }).click();
  await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
}

/** The agent page's sections and the controls the flow uses. */
function agentPage(page: Page) {
  const environment = page.getByRole('region', { name: 'Tool environment' });
  const toolbelt = page.getByRole('region', { name: 'Toolbelt' });
  return {
    environment,
    toolbelt,
    dialog: page.getByRole('dialog'),
    tool: (instance: string): Locator => toolbelt.getByRole('article', { name: new RegExp(`^${instance} \\(`) }),
  };
}

const skip = !browserAvailable();

describe.skipIf(skip)('the console in chromium', () => {
  let controller: Controller;
  let browser: Browser;
  let viewerToken: string;

  beforeAll(async () => {
    buildConsole();
    controller = await startController();
    browser = await launchBrowser();
    const created = await controller.call('POST', '/v1/tokens', { name: 'console-viewer', role: 'viewer' });
    expect(created.status).toBe(201);
    viewerToken = created.body.token;
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await controller?.stop();
  }, 60_000);

  test('sign-in page: labelled, accessible, at both widths', async () => {
    for (const width of [1280, 390]) {
      const watched = await openPage(browser, controller.url, width);
      const { page } = watched;
      await page.goto('/');
      await page.getByLabel('API token').waitFor();
      await noSeriousViolations(page, `sign-in at ${width}`);
      await screenshot(page, `sign-in-${width}`);
      // A wrong token is refused at its field.
      await page.getByLabel('API token').fill('tb_not-a-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').waitFor();
      expect(await page.getByLabel('API token').getAttribute('aria-invalid')).toBe('true');
      expect(unexpectedErrors(watched, [refused(401)])).toEqual([]);
      await watched.context.close();
    }
  }, 180_000);

  test(
    'the seed flow: create an agent, switch its environment on, add the echo tool with config and a secret, remove it, switch off',
    async () => {
      const watched = await openPage(browser, controller.url, 1280);
      const { page } = watched;
      page.setDefaultTimeout(UI);
      await signIn(page, controller.adminToken);
      const events = await openPage(browser, controller.url, 1280);
      events.page.setDefaultTimeout(UI);

      // Create an agent.
      await page.getByRole('heading', { name: 'Agents', level: 1 }).waitFor();
      await page.getByText('No agents yet.').waitFor();
      await noSeriousViolations(page, 'agents (empty)');
      await page.getByRole('button', { name: 'Create agent' }).click();
      const a = agentPage(page);
      await a.dialog.getByRole('heading', { name: 'Create an agent' }).waitFor();
      await noSeriousViolations(page, 'create-agent dialog');
      await a.dialog.getByLabel('Name').fill('flow');
      await a.dialog.getByLabel('Description (optional)').fill('created in the browser');
      await a.dialog.getByRole('button', { name: 'Create', exact: true }).click();
      await page.getByRole('heading', { name: 'flow', level: 1 }).waitFor();
      await a.environment.getByText('This agent has no tool environment yet').waitFor();
      await noSeriousViolations(page, 'agent (no environment)');

      // The events page, open in another tab, shows what happens next without a reload.
      await signIn(events.page, controller.adminToken);
      await visit(events.page, 'Events', 'Events');
      await events.page.getByText('● live').waitFor();
      await events.page.evaluate(() => ((globalThis as { notReloaded?: boolean }).notReloaded = true));

      // Switch the environment on: the confirmation states the price.
      await a.environment.getByRole('button', { name: 'Switch environment on…' }).click();
      await a.dialog.getByRole('heading', { name: 'Switch the tool environment on?' }).waitFor();
      await a.dialog.getByText('$6.00 a month').waitFor();
      expect(await a.dialog.textContent()).toMatch(/Typical provisioning time: not measured yet/);
      await noSeriousViolations(page, 'switch-on confirmation');
      await screenshot(page, 'switch-on-1280', { fullPage: false });
      await a.dialog.getByRole('button', { name: 'Switch on', exact: true }).click();
      await a.dialog.waitFor({ state: 'hidden' });

      // The new event reaches the events tab live.
      await events.page.getByRole('cell', { name: 'environment/flow' }).first().waitFor({ timeout: SLOW });
      expect(await events.page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded)).toBe(true);

      // Ready: the droplet booted and its agent connected.
      await a.environment.getByText('True', { exact: true }).waitFor({ timeout: SLOW });
      await a.environment.getByText('127.0.0.1', { exact: true }).waitFor();

      // Add the echo tool with a config value and a secret.
      await a.toolbelt.getByRole('button', { name: 'Add tool' }).click();
      await a.dialog.getByRole('heading', { name: 'Add a tool from the catalog' }).waitFor();
      await a.dialog.getByLabel('Tool', { exact: true }).selectOption('echo');
      await a.dialog.getByLabel('prefix', { exact: true }).fill('flow: ');
      await a.dialog.getByLabel('Secret name').fill('echo-secret');
      await a.dialog.getByLabel('Secret value (write-only)').fill('s3cret-value');
      await noSeriousViolations(page, 'add-tool dialog');
      await screenshot(page, 'add-tool-1280', { fullPage: false });
      await a.dialog.getByRole('button', { name: 'Add tool', exact: true }).click();
      await a.dialog.waitFor({ state: 'hidden' });

      // Running, its MCP tools shown.
      const echo = a.tool('echo');
      await echo.getByText('running', { exact: true }).waitFor({ timeout: SLOW });
      const mcpTools = echo.getByRole('list', { name: 'MCP tools of echo' });
      await mcpTools.getByText('echo', { exact: true }).waitFor({ timeout: SLOW });
      await mcpTools.getByText('secret_fingerprint', { exact: true }).waitFor();
      // Each with its description and input schema.
      await mcpTools.getByText('Answers with the text it was given', { exact: false }).waitFor();
      await mcpTools.getByText('Input schema').first().click();
      await mcpTools.getByText('"text"').first().waitFor();
      // Try it: call the tool through the agent's MCP gateway — the prefix is applied, the secret arrived.
      await echo.getByRole('button', { name: 'Try it: echo', exact: true }).click();
      await a.dialog.getByRole('heading', { name: 'Try echo of echo' }).waitFor();
      await a.dialog.getByLabel('text (required)', { exact: true }).fill('hello');
      await noSeriousViolations(page, 'try-it dialog');
      await a.dialog.getByRole('button', { name: 'Call', exact: true }).click();
      await a.dialog.getByText('flow: hello', { exact: true }).waitFor({ timeout: 60_000 });
      await screenshot(page, 'try-it-1280', { fullPage: false });
      await a.dialog.getByLabel('MCP tool (as the gateway names it)').selectOption('echo__secret_fingerprint');
      await a.dialog.getByText('This tool takes no arguments.').waitFor();
      await a.dialog.getByRole('button', { name: 'Call', exact: true }).click();
      await a.dialog.getByText(createHash('sha256').update('s3cret-value').digest('hex').slice(0, 16), { exact: true }).waitFor({ timeout: 60_000 });
      await a.dialog.getByRole('button', { name: 'Close', exact: true }).click();
      await a.dialog.waitFor({ state: 'hidden' });
      // Both calls are in the gateway's audit (written in batches: polled, not slept on).
      await vi.waitFor(
        async () => {
          const calls = await controller.call('GET', '/v1/agents/flow/calls');
          expect(calls.body.items.filter((c: { method: string }) => c.method === 'tools/call').map((c: { tool: string }) => c.tool).sort()).toEqual(['echo__echo', 'echo__secret_fingerprint']);
        },
        { timeout: 30_000, interval: 250 },
      );

      expect(await echo.textContent()).toContain('ECHO_SECRET ← echo-secret');
      expect(await echo.textContent()).toContain('"prefix":"flow: "');
      expect(await page.content()).not.toContain('s3cret-value');
      await noSeriousViolations(page, 'agent (tool running)');
      await screenshot(page, 'agent-1280');

      // A bad config value is shown at its field.
      await echo.getByRole('button', { name: 'Configure' }).click();
      await a.dialog.getByRole('heading', { name: 'Configure echo' }).waitFor();
      const prefix = a.dialog.getByLabel('prefix', { exact: true });
      await prefix.fill('x'.repeat(201));
      await a.dialog.getByRole('button', { name: 'Save', exact: true }).click();
      await a.dialog.getByText('must NOT have more than 200 characters').waitFor();
      expect(await prefix.getAttribute('aria-invalid')).toBe('true');
      const describedBy = (await prefix.getAttribute('aria-describedby')) ?? '';
      expect(await page.locator(`[id="${describedBy.split(' ').at(-1)}"]`).textContent()).toContain('must NOT have more than 200 characters');
      await noSeriousViolations(page, 'configure dialog with a field error');
      await screenshot(page, 'configure-error-1280', { fullPage: false });
      await a.dialog.getByRole('button', { name: 'Cancel' }).click();
      await a.dialog.waitFor({ state: 'hidden' });

      // The other pages, at both widths, while there is something to show.
      await tour(browser, controller, 1280);
      await tour(browser, controller, 390);

      // Remove the tool.
      await echo.getByRole('button', { name: 'Remove echo' }).click();
      await echo.waitFor({ state: 'detached', timeout: SLOW });
      await a.toolbelt.getByText('No tools yet.').waitFor();

      // Switch the environment off: the droplet is deleted.
      await a.environment.getByRole('button', { name: 'Switch environment off…' }).click();
      await a.dialog.getByRole('heading', { name: 'Switch the tool environment off?' }).waitFor();
      await noSeriousViolations(page, 'switch-off confirmation');
      await a.dialog.getByRole('button', { name: 'Switch off', exact: true }).click();
      await a.dialog.waitFor({ state: 'hidden' });
      await a.environment.getByText('deleted', { exact: true }).waitFor({ timeout: SLOW });
      await a.environment.getByRole('button', { name: 'Switch environment on…' }).waitFor();
      // The droplet is gone from the provider, and its agent process with it.
      const environments = await controller.call('GET', '/v1/environments');
      expect(environments.body.items.map((e: { droplet_id: number | null }) => e.droplet_id)).toEqual([null]);
      expect(controller.lines.some((l) => /droplet \d+: deleted/.test(l))).toBe(true);

      // The bad config value's 400 was provoked on purpose.
      expect(unexpectedErrors(watched, [refused(400)])).toEqual([]);
      expect(unexpectedErrors(events)).toEqual([]);
      await events.context.close();
      await watched.context.close();
    },
    900_000,
  );

  test('a viewer sees no write controls, and a write forced from the page is refused', async () => {
    const watched = await openPage(browser, controller.url, 1280);
    const { page } = watched;
    page.setDefaultTimeout(UI);
    await signIn(page, viewerToken);
    await page.getByText('(viewer)').waitFor();
    await page.getByRole('link', { name: 'flow', exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'Create agent' }).count()).toBe(0);

    await page.getByRole('link', { name: 'flow', exact: true }).click();
    const a = agentPage(page);
    await page.getByRole('heading', { name: 'flow', level: 1 }).waitFor();
    await a.toolbelt.getByText('Loading tools…').waitFor({ state: 'detached' });
    expect(await a.environment.getByRole('button').count()).toBe(0);
    expect(await a.environment.getByRole('combobox').count()).toBe(0);
    expect(await a.toolbelt.getByRole('button').count()).toBe(0);
    await noSeriousViolations(page, 'agent (viewer)');

    await visit(page, 'Catalog', 'Catalog');
    await page.getByRole('heading', { name: 'echo', level: 2 }).waitFor();
    expect(await page.getByRole('button', { name: 'Add catalog tool' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Edit' }).count()).toBe(0);

    // The API stays the authority: the same write, forged from the page with the session's CSRF token.
    const status = await page.evaluate(async () => {
      const session = (await (await fetch('/v1/session')).json()) as { csrf_token: string };
      const res = await fetch('/v1/agents', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf_token }, body: JSON.stringify({ name: 'forged' }) });
      return res.status;
    });
    expect(status).toBe(403);
    expect((await controller.call('GET', '/v1/agents/forged')).status).toBe(404);
    // Nor may a viewer's session call a tool through the agent's MCP gateway.
    const gateway = await page.evaluate(async () => {
      const session = (await (await fetch('/v1/session')).json()) as { csrf_token: string };
      const res = await fetch('/v1/agents/flow/mcp', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-csrf-token': session.csrf_token },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      });
      return res.status;
    });
    expect(gateway).toBe(403);
    expect(unexpectedErrors(watched, [refused(403)])).toEqual([]);
    await watched.context.close();
  }, 180_000);

  test('sign-out ends the session on the server; the token is kept nowhere in the browser', async () => {
    const watched = await openPage(browser, controller.url, 1280);
    const { page, context } = watched;
    page.setDefaultTimeout(UI);
    await signIn(page, controller.adminToken);
    const stored = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, url: location.href }));
    expect(stored).not.toContain(controller.adminToken);
    const cookies = await context.cookies();
    expect(cookies.map((c) => c.name)).toEqual(['toolbelt_session']);
    const cookie = cookies[0]!;
    expect(cookie.value).not.toContain(controller.adminToken);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    const withCookie = (path: string) => fetch(`${controller.url}${path}`, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
    expect((await withCookie('/v1/agents')).status).toBe(200);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    // The old cookie, replayed, no longer works.
    expect((await withCookie('/v1/agents')).status).toBe(401);
    expect(await (await withCookie('/v1/session')).json()).toEqual({ signed_in: false });
    expect(unexpectedErrors(watched)).toEqual([]);
    await watched.context.close();
  }, 180_000);
});

/**
 * Visits every page at `width` as an admin (with the flow's agent running its echo tool):
 * axe on each page and on the catalog's dialogs, a screenshot of each, and at 390 px
 * tables that scroll inside their card rather than squeeze their rows or widen the page.
 */
async function tour(browser: Browser, controller: Controller, width: number): Promise<void> {
  const watched = await openPage(browser, controller.url, width);
  const { page } = watched;
  page.setDefaultTimeout(UI);
  await signIn(page, controller.adminToken);
  const check = async (name: string) => {
    await screenshot(page, `${name}-${width}`);
    await noSeriousViolations(page, `${name} at ${width}`);
    if (width < 600) expect(await layoutAt390(page), `${name} at ${width}`).toEqual({ pageOverflow: 0, squeezed: [] });
  };

  await page.getByRole('link', { name: 'flow', exact: true }).waitFor();
  await check('agents');

  await page.getByRole('link', { name: 'flow', exact: true }).click();
  await page.getByRole('heading', { name: 'flow', level: 1 }).waitFor();
  await agentPage(page).environment.getByText('True', { exact: true }).waitFor();
  await agentPage(page).tool('echo').getByRole('list', { name: 'MCP tools of echo' }).waitFor();
  await page.getByRole('figure').first().waitFor();
  await page.getByRole('region', { name: /^Events/ }).getByText('● live').waitFor();
  await check('agent');

  await visit(page, 'Catalog', 'Catalog');
  await page.getByRole('heading', { name: 'echo', level: 2 }).waitFor();
  await check('catalog');
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.getByRole('dialog').getByRole('heading', { name: 'Edit echo' }).waitFor();
  await noSeriousViolations(page, `catalog edit dialog at ${width}`);
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('button', { name: 'Add catalog tool' }).click();
  await page.getByRole('dialog').getByRole('heading', { name: 'Add a catalog tool' }).waitFor();
  await noSeriousViolations(page, `add-catalog-tool dialog at ${width}`);
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('dialog').waitFor({ state: 'hidden' });

  await visit(page, 'Events', 'Events');
  await page.getByText('● live').waitFor();
  await page.getByRole('cell', { name: 'environment/flow' }).first().waitFor();
  await check('events');

  expect(unexpectedErrors(watched)).toEqual([]);
  await watched.context.close();
}
