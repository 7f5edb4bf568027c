/**
 * The tools diff as a table of (desired rows, agent reports, commands so far) → plan. Pure:
 * no database, no agent.
 */
import type { CatalogTool, Command, ToolInstance } from '@toolbelt/schema';
import type { ToolStatusReport } from '@toolbelt/schema/protocol';
import { describe, expect, it } from 'vitest';
import {
  buildToolSpec,
  deliveryFingerprint,
  MAX_EVENTS_PER_RECONCILE,
  MAX_ORPHANS_PER_RECONCILE,
  type Observation,
  diffTools,
  reachableEndpoints,
  retryDelay,
  type ToolInput,
  type ToolsDiffInput,
} from '../src/tools/index.ts';

const NOW = Date.parse('2026-11-24T12:00:00Z');
const TOOL_ID = '11111111-1111-4111-8111-111111111111';
const DROPLET_IP = '203.0.113.7';

const catalog: CatalogTool = {
  id: 'c1',
  tool_name: 'echo',
  description: '',
  version_info: { versions: ['1.0.0'], default: '1.0.0' },
  packaging_type: 'npm_package',
  package_identifier: '@toolbelt/echo-mcp',
  default_config_template: {
    type: 'object',
    properties: { prefix: { type: 'string', 'x-toolbelt-env': 'ECHO_PREFIX' } },
    'x-toolbelt-launch': { args: ['--transport', 'http'] },
  },
  transport: 'mcp-http',
  ports: [18765],
  health_check: null,
  generation: 1,
  created_at: new Date(NOW),
  updated_at: new Date(NOW),
};

function row(patch: Partial<ToolInstance> = {}): ToolInstance {
  return {
    id: TOOL_ID,
    agent_droplet_id: 'env',
    tool_catalog_id: 'c1',
    instance_name: 'echo',
    version: '1.0.0',
    config_details: { prefix: 'a: ' },
    secret_refs: { ECHO_SECRET: 'echo-secret' },
    desired_state: 'running',
    allowed_tools: null,
    denied_tools: null,
    deletion_requested_at: null,
    generation: 1,
    status: 'pending',
    observed_generation: 0,
    conditions: [],
    endpoints: [],
    capabilities: null,
    last_error: null,
    delivery: null,
    created_at: new Date(NOW),
    updated_at: new Date(NOW),
    ...patch,
  };
}

function input(tool: ToolInstance, secretVersion = 1, missing: string[] = []): ToolInput {
  const spec = buildToolSpec(tool, catalog);
  const fingerprint = spec.ok ? deliveryFingerprint(spec.spec, { 'echo-secret': secretVersion }) : '';
  return { tool, spec, fingerprint, missingSecrets: missing };
}

function report(patch: Partial<ToolStatusReport> = {}): ToolStatusReport {
  return {
    toolInstanceId: TOOL_ID,
    instanceName: 'echo',
    generation: 1,
    runtime: 'process',
    state: 'running',
    endpoints: [{ host: '127.0.0.1', port: 18765, path: '/mcp', transport: 'mcp-http' }],
    health: { status: 'healthy' },
    capabilities: { tools: [{ name: 'echo' }] },
    restarts: 0,
    ...patch,
  };
}

let commandSeq = 0;
function command(type: string, generation: number, status: Command['status'], more: { agoMs?: number; result?: Record<string, unknown> } = {}): Command {
  const finishedAgoMs = more.agoMs ?? 1_000;
  const result = more.result ?? null;
  commandSeq += 1;
  const at = new Date(NOW - finishedAgoMs);
  return {
    id: `00000000-0000-4000-8000-${String(commandSeq).padStart(12, '0')}`,
    agent_droplet_id: 'env',
    command_type: type,
    tool_instance_id: TOOL_ID,
    generation,
    payload: {},
    dedupe_key: `${type}:${TOOL_ID}:${generation}`,
    status,
    result,
    error_code: null,
    attempts: 1,
    sent_by: null,
    created_at: at,
    updated_at: at,
    sent_at: at,
    finished_at: ['done', 'failed', 'timed_out'].includes(status) ? at : null,
    deadline: new Date(NOW + 60_000),
  };
}

function diff(tools: ToolInput[], reports: ToolStatusReport[] = [], commands: Command[] = [], extra: Partial<ToolsDiffInput> = {}) {
  const observed = new Map<string, Observation>(reports.map((r) => [r.toolInstanceId, { report: r, observedAt: NOW - 500 }]));
  return diffTools({ tools, observed, commands, agentConnected: true, dropletAddress: DROPLET_IP, now: NOW, retry: { baseMs: 1_000, maxMs: 60_000 }, ...extra });
}

const delivered = (tool: ToolInstance, secretVersion = 1) => ({ ...tool, delivery: { wireGeneration: 1, specGeneration: tool.generation, fingerprint: input(tool, secretVersion).fingerprint } });

describe('tool specs from the catalog', () => {
  it('maps settings marked x-toolbelt-env to variables, secrets to names only, launch args', () => {
    const built = buildToolSpec(row(), catalog);
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(built.spec).toMatchObject({
      packageIdentifier: '@toolbelt/echo-mcp',
      version: '1.0.0',
      env: { ECHO_PREFIX: 'a: ' },
      secretEnv: ['ECHO_SECRET'],
      args: ['--transport', 'http'],
      ports: [{ port: 18765, hostIp: '127.0.0.1' }],
    });
    expect(JSON.stringify(built.spec)).not.toContain('echo-secret');
  });

  it('puts tools where the controller wants them reachable: loopback by default, or every address', () => {
    const open = buildToolSpec(row(), catalog, { hostIp: '0.0.0.0' });
    expect(open).toMatchObject({ ok: true, spec: { ports: [{ port: 18765, hostIp: '0.0.0.0' }] } });
    const image = { ...catalog, packaging_type: 'docker_image', package_identifier: '127.0.0.1:5000/echo' } as CatalogTool;
    expect(buildToolSpec(row(), image, { hostIp: '0.0.0.0' })).toMatchObject({ ok: true, spec: { ports: [{ port: 18765, hostPort: 18765, hostIp: '0.0.0.0' }] } });
    expect(buildToolSpec(row(), image)).toMatchObject({ ok: true, spec: { ports: [{ hostIp: '127.0.0.1' }] } });
  });

  it('refuses a catalog entry that cannot make a spec, with the reason', () => {
    const built = buildToolSpec(row(), { ...catalog, default_config_template: { 'x-toolbelt-launch': { args: 'not a list' } } } as CatalogTool);
    expect(built.ok).toBe(true); // a non-array is ignored, not sent
    const bad = buildToolSpec(row({ secret_refs: { 'not-a-var': 'x' } }), catalog);
    expect(bad).toMatchObject({ ok: false, reason: expect.stringMatching(/secretEnv/) });
  });
});

describe('diffTools', () => {
  it('installs a tool the agent does not report, recording delivery 1 first', () => {
    const plan = diff([input(row())]);
    expect(plan.tools[0]!.delivery).toMatchObject({ wireGeneration: 1, specGeneration: 1 });
    expect(plan.tools[0]!.command).toMatchObject({ type: 'install', generation: 1 });
    expect(plan.tools[0]!.status.status).toBe('pending');
  });

  it('never sends a second install while one is open (a replay is the same command)', () => {
    const tool = delivered(row());
    const plan = diff([input(tool)], [], [command('install', 1, 'sent')]);
    expect(plan.tools[0]!.command).toBeUndefined();
    expect(plan.tools[0]!.status.status).toBe('installing');
  });

  it('installs again when a replaced droplet reports an empty inventory', () => {
    const tool = delivered(row({ status: 'running' }));
    const plan = diff([input(tool)], [], [command('install', 1, 'done', { agoMs: 60_000 }), command('start', 1, 'done', { agoMs: 50_000 })], {});
    // The old commands are done long before; nothing is reported any more: install again.
    expect(plan.tools[0]!.command).toMatchObject({ type: 'install', generation: 1 });
    // Just done, report not in yet: wait for it instead.
    const fresh = diff([input(tool)], [], [command('install', 1, 'done', { agoMs: 100 })]);
    expect(fresh.tools[0]!.command).toBeUndefined();
    expect(fresh.requeueAfterMs).toBeGreaterThan(0);
  });

  it('starts an installed tool and stops one that should be stopped', () => {
    const tool = delivered(row());
    expect(diff([input(tool)], [report({ state: 'installed', health: { status: 'unknown' } })]).tools[0]!.command).toMatchObject({ type: 'start', generation: 1 });
    const stopped = delivered(row({ desired_state: 'stopped' }));
    expect(diff([input(stopped)], [report()]).tools[0]!.command).toMatchObject({ type: 'stop', generation: 1 });
    expect(diff([input(tool)], [report()]).tools[0]!.command).toBeUndefined();
  });

  it('sends nothing while the environment winds down: a tool stopped before its droplet goes is not started again', () => {
    const tool = delivered(row());
    const stoppedOnPurpose = [report({ state: 'stopped' })];
    expect(diff([input(tool)], stoppedOnPurpose).tools[0]!.command).toMatchObject({ type: 'start' });
    const plan = diff([input(tool)], stoppedOnPurpose, [], { windingDown: true });
    expect(plan.tools[0]!.command).toBeUndefined();
    expect(plan.orphans).toEqual([]);
  });

  it('configures at the next generation on a spec change and on a rotated secret', () => {
    const tool = delivered(row());
    const edited = { ...tool, generation: 2, config_details: { prefix: 'b: ' } };
    const plan = diff([input(edited)], [report()]);
    expect(plan.tools[0]!.delivery).toMatchObject({ wireGeneration: 2, specGeneration: 2 });
    expect(plan.tools[0]!.command).toMatchObject({ type: 'configure', generation: 2 });
    const rotated = diff([input(tool, 2)], [report()]);
    expect(rotated.tools[0]!.command).toMatchObject({ type: 'configure', generation: 2 });
    expect(JSON.stringify(rotated.tools[0]!.command!.payload)).not.toContain('echo-secret');
  });

  it('observes a spec change the agent never sees (the gateway filters) without sending anything', () => {
    const tool = delivered(row());
    const filtered = { ...tool, generation: 2, denied_tools: ['echo'] };
    const plan = diff([input(filtered)], [report()]);
    expect(plan.tools[0]!.command).toBeUndefined();
    expect(plan.tools[0]!.delivery).toMatchObject({ wireGeneration: 1, specGeneration: 2 });
    expect(plan.tools[0]!.status.observed_generation).toBe(2);
  });

  it('reports running, Ready and the observed generation from a healthy current report', () => {
    const plan = diff([input(delivered(row()))], [report()]);
    const status = plan.tools[0]!.status;
    expect(status).toMatchObject({ status: 'running', observed_generation: 1, last_error: null, endpoints: [expect.objectContaining({ port: 18765 })] });
    expect(status.conditions!.map((c) => `${c.type}=${c.status}`)).toEqual(['Ready=True', 'Installed=True', 'Running=True', 'Healthy=True']);
    expect(plan.events.map((e) => e.reason)).toEqual(['CapabilitiesDiscovered', 'ToolRunning']);
  });

  it("reports a running tool's loopback or wildcard endpoint at the droplet's public address, and none while it is stopped", () => {
    const running = diff([input(delivered(row()))], [report()]);
    expect(running.tools[0]!.status.endpoints).toEqual([{ host: DROPLET_IP, port: 18765, path: '/mcp', transport: 'mcp-http' }]);
    const unknownAddress = diff([input(delivered(row()))], [report()], [], { dropletAddress: null });
    expect(unknownAddress.tools[0]!.status.endpoints).toEqual([{ host: '127.0.0.1', port: 18765, path: '/mcp', transport: 'mcp-http' }]);
    const stopped = diff([input(delivered(row({ desired_state: 'stopped' })))], [report({ state: 'stopped' })]);
    expect(stopped.tools[0]!.status.endpoints).toEqual([]);
  });

  it('explains a crash loop with the last exit and output', () => {
    const looping = report({
      state: 'crash_loop',
      health: { status: 'unhealthy' },
      reason: 'exited 3 times within 10 s',
      lastExit: { code: 1, signal: null, at: '2026-11-24T11:59:59Z' },
      restarts: 3,
      lastLogLines: [{ at: '2026-11-24T11:59:59Z', stream: 'stderr', text: 'Error: cannot bind port' }],
    });
    const plan = diff([input(delivered(row()))], [looping]);
    expect(plan.tools[0]!.status.status).toBe('error');
    expect(plan.tools[0]!.status.last_error).toMatch(/exited 3 times.*code 1.*3 restart.*cannot bind port/s);
    expect(plan.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'ToolFailed' }));
  });

  it('retries a failed install after a growing backoff, and shows why it failed meanwhile', () => {
    const tool = delivered(row());
    const failed = (agoMs: number) => command('install', 1, 'failed', { agoMs, result: { error: { code: 'AGENT_ERR_INSTALL_FAILED', reason: 'npm: 404 Not Found' } } });
    const soon = diff([input(tool)], [], [failed(500)]);
    expect(soon.tools[0]!.command).toBeUndefined();
    expect(soon.requeueAfterMs).toBe(500);
    expect(soon.tools[0]!.status).toMatchObject({ status: 'error', last_error: 'install failed: npm: 404 Not Found' });
    expect(diff([input(tool)], [], [failed(1_500)]).tools[0]!.command).toMatchObject({ type: 'install' });
    // Two failures: the second waits twice as long.
    expect(diff([input(tool)], [], [failed(5_000), failed(1_500)]).tools[0]!.command).toBeUndefined();
    expect(retryDelay(1, { baseMs: 1_000, maxMs: 60_000 })).toBe(1_000);
    expect(retryDelay(10, { baseMs: 1_000, maxMs: 60_000 })).toBe(60_000);
  });

  it('uninstalls a removed tool and deletes the row once the agent no longer has it', () => {
    const removing = delivered(row({ deletion_requested_at: new Date(NOW) }));
    const first = diff([input(removing)], [report()]);
    expect(first.tools[0]!.command).toMatchObject({ type: 'uninstall' });
    expect(first.tools[0]!.deleteRow).toBe(false);
    expect(first.tools[0]!.status.status).toBe('uninstalling');
    const waiting = diff([input(removing)], [report()], [command('uninstall', 1, 'sent')]);
    expect(waiting.tools[0]!.deleteRow).toBe(false);
    expect(diff([input(removing)], [], [command('uninstall', 1, 'done')]).tools[0]!.deleteRow).toBe(true);
  });

  it('sends nothing while the agent is away, and says so', () => {
    const plan = diff([input(row())], [], [], { agentConnected: false });
    expect(plan.tools[0]!.command).toBeUndefined();
    expect(plan.tools[0]!.status.last_error).toMatch(/waiting for the droplet agent/);
  });

  it('waits for a missing secret with a clear error and sends nothing', () => {
    const plan = diff([input(row(), 1, ['echo-secret'])]);
    expect(plan.tools[0]!.command).toBeUndefined();
    expect(plan.tools[0]!.status).toMatchObject({ status: 'pending_config', last_error: expect.stringMatching(/no secret named echo-secret/) });
  });

  it('uninstalls tools the agent runs that the store does not have', () => {
    const stray = report({ toolInstanceId: '22222222-2222-4222-8222-222222222222', generation: 4 });
    const plan = diff([], [stray]);
    expect(plan.orphans).toEqual([{ toolInstanceId: stray.toolInstanceId, type: 'uninstall', generation: 4, payload: {} }]);
  });

  it('uninstalls at most MAX_ORPHANS_PER_RECONCILE invented tools at once, however many are reported', () => {
    const strays = Array.from({ length: 1000 }, (_, i) => report({ toolInstanceId: `invented-${i}` }));
    const plan = diff([], strays);
    expect(plan.orphans).toHaveLength(MAX_ORPHANS_PER_RECONCILE);
    expect(plan.orphansLeft).toBe(1000 - MAX_ORPHANS_PER_RECONCILE);
    expect(plan.requeueAfterMs).toBeGreaterThan(0);
    // Open (unanswered) uninstalls count: an agent that never answers holds only so many.
    const open = plan.orphans.map((o) => ({ ...command('uninstall', 1, 'sent'), tool_instance_id: o.toolInstanceId }));
    const next = diff([], strays, open);
    expect(next.orphans).toEqual([]);
    expect(next.orphansLeft).toBe(1000 - MAX_ORPHANS_PER_RECONCILE);
    // …also when a newer inventory no longer lists the tools they are for.
    const fresh = Array.from({ length: 100 }, (_, i) => report({ toolInstanceId: `fresh-${i}` }));
    expect(diff([], fresh, open).orphans).toEqual([]);
  });

  it('writes at most MAX_EVENTS_PER_RECONCILE events, warnings first', () => {
    const tools = Array.from({ length: 80 }, (_, i) => input(row({ id: `t-${i}`, instance_name: `t${i}`, status: 'running' })));
    const reports = tools.map((t) => report({ toolInstanceId: t.tool.id, state: 'crash_loop', reason: 'boom', capabilities: undefined }));
    const plan = diff(tools, reports);
    expect(plan.events).toHaveLength(MAX_EVENTS_PER_RECONCILE);
    expect(plan.eventsOmitted).toBeGreaterThan(0);
    expect(plan.events.every((e) => e.type === 'Warning')).toBe(true);
  });

  it('notices a changed MCP tool list', () => {
    const tool = delivered(row({ capabilities: { tools: [{ name: 'echo' }] }, status: 'running' }));
    const plan = diff([input(tool)], [report({ capabilities: { tools: [{ name: 'echo' }, { name: 'shout' }] } })]);
    expect(plan.events).toEqual([expect.objectContaining({ reason: 'CapabilitiesChanged', message: expect.stringMatching(/added shout; removed none/) })]);
  });
});

describe('reachableEndpoints', () => {
  const at = (host: string) => ({ host, port: 8000, path: '/mcp', transport: 'mcp-http' as const });

  it.each(['127.0.0.1', '127.64.0.2', '0.0.0.0', '::', '[::]', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1'])(
    'puts the droplet address in place of %s',
    (host) => {
      expect(reachableEndpoints([at(host)], DROPLET_IP)).toEqual([at(DROPLET_IP)]);
    },
  );

  it('keeps a specific address the tool is bound to', () => {
    expect(reachableEndpoints([at('10.108.0.5'), at('198.51.100.4'), at('2001:db8::5')], DROPLET_IP)).toEqual([
      at('10.108.0.5'),
      at('198.51.100.4'),
      at('2001:db8::5'),
    ]);
  });

  it('reports what the agent reported while the droplet address is not known', () => {
    expect(reachableEndpoints([at('127.0.0.1'), at('0.0.0.0')], null)).toEqual([at('127.0.0.1'), at('0.0.0.0')]);
  });
});
