/**
 * `npm run bench`: creates and observes 1,000 droplets to `active` against the simulator
 * with DigitalOcean's real limits, the provider's way beside the naive ways, once each
 * (a scenario, not a micro-benchmark), and prints the table that docs/performance.md shows.
 * `npm run bench:provider -w @toolbelt/reconcilers` runs the same with options.
 */
import { bench, describe } from 'vitest';
import { type ScenarioResult, type Way, markdownTable, runScenario } from './fleet-scenario.ts';

const DROPLETS = 1000;
const SPEED = 50;
const ONCE = { iterations: 1, time: 0, warmupIterations: 0, warmupTime: 0 };
const WAYS: Way[] = ['batched', 'naive', 'naive-paced'];
const results: ScenarioResult[] = [];

describe(`DigitalOcean: create and observe ${DROPLETS} droplets (simulated ×${SPEED})`, () => {
  for (const way of WAYS) {
    bench(
      way,
      async () => {
        results.push(await runScenario(way, { droplets: DROPLETS, speed: SPEED }));
        // The figures are the calls and 429s, not the timings vitest prints: show the table
        // once every way has run.
        if (results.length === WAYS.length) console.log(`\n${markdownTable(results)}\n`);
      },
      ONCE,
    );
  }
});
