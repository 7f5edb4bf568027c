/**
 * Tools on droplets, end to end with real everything: the API switches an agent's environment
 * on → the embedded simulator creates a droplet → a real droplet agent boots from its
 * user_data (local droplets) and enrolls over the hub → the tools reconciler installs the
 * echo MCP server (npm package from the controller's package shelf) with a secret → an MCP
 * client calls it at its reported endpoint → config change, secret rotation, stop, start,
 * removal → the environment switched off → droplet gone, credentials revoked. Then the leak
 * check: the secret's value appears nowhere it must not.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { rowsOf } from '@toolbelt/schema';
import { describeEachDatabase } from '@toolbelt/schema/testing';
import { afterEach, expect, it } from 'vitest';
import { fingerprintOf, switchOffLeavingNothing, ToolHandle } from '../support/tool-flow.ts';
import { type E2E, startE2E } from '../support/e2e.ts';
import { freePort } from '../support/ports.ts';
import { tryMcpTool } from '../support/mcp.ts';

const SECRET = `e2e-secret-${Math.random().toString(36).slice(2)}-value`;
const ROTATED = `${SECRET}-rotated`;

let e2e: E2E | undefined;
afterEach(async () => {
  await e2e?.stop();
  e2e = undefined;
});

/** Every file under `dir` (droplet disks: agent state, tool logs). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  // The droplet's disk changes while it is read (a release link swapped, a pid file removed).
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw error;
  }
  for (const name of names) {
    const path = join(dir, name);
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) continue;
    if (stat.isDirectory()) {
      if (name !== 'node_modules') out.push(...filesUnder(path));
    } else if (stat.isFile() && stat.size < 5_000_000) out.push(path);
  }
  return out;
}

/** Every text column of every table except the encrypted store's ciphertext. */
async function databaseDump(e: E2E): Promise<string> {
  const db = e.controller.database.db;
  const tables = rowsOf<{ name: string }>(await db.execute(sql`select tablename as name from pg_tables where schemaname = current_schema()`));
  const parts: string[] = [];
  for (const { name } of tables) {
    const rows = rowsOf<Record<string, unknown>>(await db.execute(sql.raw(`select * from ${name}`)));
    parts.push(JSON.stringify(rows, (_k, v) => (Buffer.isBuffer(v) || v instanceof Uint8Array ? '[bytes]' : v)));
  }
  return parts.join('\n');
}

describeEachDatabase('tools end to end (process runtime)', (t) => {
  it(
    'runs the echo MCP server with a secret through its whole life, and leaks the secret nowhere',
    async () => {
      const e = (e2e = await startE2E(t));
      const port = await freePort();
      // The seeded echo, on a port free on this machine (every local droplet shares its network).
      const catalog = await e.call('PATCH', '/v1/catalog/echo', { ports: [port] });
      expect(catalog.status, catalog.text).toBe(200);
      expect((await e.call('POST', '/v1/agents', { name: 'alpha', environment: { active: true } })).status).toBe(201);
      expect((await e.call('PUT', '/v1/agents/alpha/secrets/echo-secret', { value: SECRET })).status).toBeLessThan(300);
      const added = await e.call('POST', '/v1/agents/alpha/tools', {
        tool_name: 'echo',
        config_details: { prefix: 'one: ' },
        secret_refs: { ECHO_SECRET: 'echo-secret' },
      });
      expect(added.status, added.text).toBe(201);
      const tool = new ToolHandle(e, 'alpha', added.body.id);

      // Installed from the package shelf, started, healthy: its endpoint and MCP tools are known.
      const running = await tool.untilRunning(180_000);
      expect(running.endpoints).toEqual([{ host: '127.0.0.1', port, path: '/mcp', transport: 'mcp-http' }]);
      expect(running.capabilities.serverInfo.name).toBe('toolbelt-echo');
      expect(running.capabilities.tools.map((x: { name: string }) => x.name).sort()).toEqual(['echo', 'secret_fingerprint']);
      expect(running.observed_generation).toBe(running.generation);
      const endpoint = running.endpoints[0];
      await tool.expectInToolbelt(endpoint);
      expect(await tryMcpTool(endpoint, 'echo', { text: 'hi' })).toBe('one: hi');
      expect(await tryMcpTool(endpoint, 'secret_fingerprint')).toBe(fingerprintOf(SECRET));

      // A config change restarts it with the new setting; a rotated secret is delivered again.
      await tool.reconfigure(endpoint, 'two: ');
      await tool.rotateSecret(endpoint, 'echo-secret', ROTATED);

      // Stop, then start again; removed: uninstalled by the agent, then the row goes.
      await tool.stopAndStart(endpoint, 'two: ', async () => {});
      await tool.remove(endpoint);

      // The environment switched off: the droplet goes, its credentials are revoked, nothing is left.
      await switchOffLeavingNothing(e, 'alpha', running.environment_id);

      // The leak check: neither value in any log line, event, command, API answer, database
      // column outside the encrypted store, or file on the droplet's disk.
      const dump = await databaseDump(e);
      const answers = [
        (await e.call('GET', '/v1/agents/alpha/secrets')).text,
        (await e.call('GET', '/v1/agents/alpha/tools')).text,
        (await e.call('GET', '/v1/events?limit=500')).text,
        (await e.call('GET', '/v1/agents/alpha/toolbelt')).text,
      ];
      // A file may go between the listing and the reading (an agent's pid file, a log rotated).
      const files = filesUnder(e.dataDir).flatMap((f) => {
        try {
          return [readFileSync(f, 'utf8')];
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
          throw error;
        }
      });
      for (const value of [SECRET, ROTATED]) {
        expect(e.logs.filter((line) => line.includes(value))).toEqual([]);
        expect(dump.includes(value)).toBe(false);
        expect(answers.filter((a) => a.includes(value))).toEqual([]);
        expect(files.filter((f) => f.includes(value)).length).toBe(0);
      }
      expect(e.logs.length).toBeGreaterThan(50);
    },
    360_000,
  );
});
