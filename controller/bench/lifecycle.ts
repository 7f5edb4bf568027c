/**
 * `npm run bench:lifecycle -w @toolbelt/controller -- [--environments 1000] [--speed 5]
 * [--database-url postgres://…/scratch] [--seed 1]`: enables N environments at once and
 * prints the table docs/performance.md ("Droplet lifecycle") shows. Without a database URL
 * it runs on PGlite in memory; a given database must be empty (it is migrated and filled).
 */
import { parseArgs } from 'node:util';
import { lifecycleTable, runLifecycleScenario } from './lifecycle-scenario.ts';

const { values } = parseArgs({
  options: {
    environments: { type: 'string', default: '1000' },
    speed: { type: 'string', default: '5' },
    'database-url': { type: 'string' },
    seed: { type: 'string', default: '1' },
    workers: { type: 'string' },
  },
});
const result = await runLifecycleScenario({
  environments: Number(values.environments),
  speed: Number(values.speed),
  databaseUrl: values['database-url'],
  seed: Number(values.seed),
  ...(values.workers ? { workers: Number(values.workers) } : {}),
});
console.log(lifecycleTable([result]));
