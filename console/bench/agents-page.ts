/**
 * How quickly the agents page becomes usable with 1,000 agents, on loopback, in chromium:
 * the time from navigation to the first rows being shown (interactive: search and filter
 * work on what is loaded) and to all 1,000 being loaded, measured in the page
 * (`performance.now()` since navigation start). `npm run bench -w @toolbelt/console`;
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
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`agents page with ${AGENTS} agents (median of ${RUNS}): first rows shown ${median(firstRows).toFixed(0)} ms after navigation, all ${AGENTS} loaded ${median(allLoaded).toFixed(0)} ms; ${rows} rows in the DOM`);
  await browser.close();
} finally {
  await controller.stop();
}
