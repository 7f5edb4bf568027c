/**
 * Runs the fleet scenario (fleet-scenario.ts) from the command line and prints the table:
 *
 *   npm run bench:provider -w @toolbelt/reconcilers -- [--droplets 1000] [--speed 50] [--ways batched,naive,naive-paced]
 */
import { parseArgs } from 'node:util';
import { type ScenarioResult, type Way, markdownTable, runScenario } from './fleet-scenario.ts';

const { values } = parseArgs({
  options: {
    droplets: { type: 'string', default: '1000' },
    speed: { type: 'string', default: '50' },
    ways: { type: 'string', default: 'batched,naive,naive-paced' },
    seed: { type: 'string', default: '1' },
  },
});
const ways = values.ways.split(',') as Way[];
const results: ScenarioResult[] = [];
for (const way of ways) {
  results.push(await runScenario(way, { droplets: Number(values.droplets), speed: Number(values.speed), seed: Number(values.seed) }));
  console.error(`${way}: done`);
}
console.log(markdownTable(results));
