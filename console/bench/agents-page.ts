/**
 * How quickly the agents page becomes usable with 1,000 agents, on loopback, in chromium:
 * the time from navigation to the first rows being shown (interactive: search and filter
 * work on what is loaded) and to all 1,000 being loaded, measured in the page
 * (`performance.now()` since navigation start), and a search over all of them (typing to the
 * one row left). Each figure includes the driver's round trip, so it is an upper bound. `npm run bench -w @toolbelt/console`;
 * the figures go in docs/performance.md.
 */
import { buildConsole, launchBrowser, openPage, signIn, startController } from '../test/harness.ts';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 1000);
const RUNS = 5;

const controller = await startController({ TOOLBELT_LOCAL_DROPLETS: 'false' });
try {
  buildConsole();
  const documents = Array.from({ length: AGENTS }, (_, i) => ({ kind: 'Agent', metadata: { name: `agent-${String(i).padStart(4, '0')}` }, spec: { description: `bench agent ${i}` } }));
  const applied = await controller.call('POST', '/v1/apply', { documents });
  if (applied.status !== 200) throw new Error(`apply: ${applied.status} ${JSON.stringify(applied.body).slice(0, 300)}`);
  const browser = await launchBrowser();
  const { page } = await openPage(browser, controller.url);
  await signIn(page, controller.adminToken);
  const firstRows: number[] = [];
  const allLoaded: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    await page.goto('/agents');
    await page.locator('table.agents tbody tr').first().waitFor();
    firstRows.push(await page.evaluate(() => performance.now()));
    await page.getByText(`of ${AGENTS} agents`).filter({ hasNotText: 'loading' }).waitFor();
    allLoaded.push(await page.evaluate(() => performance.now()));
  }
  const rows = await page.locator('table.agents tbody tr').count();
  // Interactive: a search over all of them, from the keystroke to the one row left.
  const searches: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    const target = `agent-${String(AGENTS - 1 - run).padStart(4, '0')}`;
    const start = await page.evaluate(() => performance.now());
    await page.getByLabel('Search').fill(target);
    await page.getByText(`1 of ${AGENTS} agents`).waitFor();
    searches.push((await page.evaluate(() => performance.now())) - start);
    await page.getByLabel('Search').fill('');
    await page.getByText(`${AGENTS} of ${AGENTS} agents`).waitFor();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `agents page with ${AGENTS} agents (median of ${RUNS}): first rows shown ${median(firstRows).toFixed(0)} ms after navigation, all ${AGENTS} loaded ${median(allLoaded).toFixed(0)} ms; ${rows} rows in the DOM; a search over all of them ${median(searches).toFixed(0)} ms from typing to the one row`,
  );
  await browser.close();
} finally {
  await controller.stop();
}
