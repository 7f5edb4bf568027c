/**
 * The controller tests' shared leak check (vitest `setupFiles`): a test that leaves a child
 * process, an agent hub, a database pool or an in-process controller open fails, naming
 * what it left, and what it left is closed so that the next test starts clean. Things opened
 * in a beforeAll are checked when the file ends. See leaks.ts.
 */
import { afterAll, afterEach, beforeEach, expect } from 'vitest';
import { closeLeftovers, testRunningNow } from './leaks.ts';

beforeEach(() => testRunningNow(true));

// Registered first, so it runs last: after the file's own afterEach hooks have closed what they close.
afterEach(async () => {
  testRunningNow(false);
  expect(await closeLeftovers('test'), 'the test left these open').toEqual([]);
});

afterAll(async () => {
  expect(await closeLeftovers('file'), 'the file left these open').toEqual([]);
});
