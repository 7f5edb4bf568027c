/** A replica that only holds the `failover` lease (default timings) until killed; for loop.ts. */
import { openDatabase } from '@toolbelt/schema';
import pino from 'pino';
import { LeaderElector } from '../src/loop/leader.ts';

const database = await openDatabase({ url: process.argv[2], maxConnections: 2 });
const elector = new LeaderElector({
  db: database.db,
  logger: pino({ level: 'warn' }, process.stderr),
  components: [],
  lease: 'failover',
  onChange: (state) => process.stdout.write(`${JSON.stringify(state)}\n`),
});
await elector.start(new AbortController().signal);
