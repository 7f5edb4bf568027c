import { defineConfig } from 'vitest/config';

// One vitest run across the workspace: each room is a project with its own tests.
/** Setup files by room: the controller's shared leak check (controller/test/support/setup.ts). */
const SETUP: Record<string, string[]> = { controller: ['test/support/setup.ts'] };

export default defineConfig({
  test: {
    projects: ['schema', 'reconcilers', 'controller', 'droplet-agent', 'simulator', 'tools/echo-mcp', 'console'].map((room) => ({
      extends: true,
      test: {
        name: room,
        root: room,
        include: ['test/**/*.test.ts'],
        setupFiles: SETUP[room] ?? [],
        benchmark: { include: ['bench/**/*.bench.ts'] },
      },
    })),
    pool: 'forks',
    // Three test files at a time on two cores: the suite mostly waits on processes, sockets and
    // Postgres. Measured on a quiet machine: 1,523 s with the default, 699 s with 3, all green.
    maxWorkers: 3,
    // Many tests start real processes (controllers, agents, the CLI): seconds each on a busy 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    passWithNoTests: true,
  },
});
