/**
 * Spec-change announcements are transactional: a writer announces in the transaction of its
 * write, Postgres delivers the NOTIFY on commit and drops it on rollback. On both engines
 * (PGlite delivers NOTIFY within its one instance).
 */
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import {
  announceAgentChange,
  announceAgentToolsChange,
  announceToolsChange,
  createAgent,
  createEnvironment,
  type Db,
  notifySpecChange,
  parseSpecChange,
  SPEC_CHANNEL,
} from '../src/index.ts';
import { describeEachDatabase, type TestDatabase } from '../src/testing.ts';

/** Listens on the spec channel; `settle()` waits until every earlier commit's notifications arrived. */
async function listenSpec(t: TestDatabase) {
  const received: string[] = [];
  const markers = new Map<string, () => void>();
  const unlisten = await t.database.listen(SPEC_CHANNEL, (payload) => {
    const change = parseSpecChange(payload);
    if (change?.kind === 'marker') markers.get(change.key)?.();
    else received.push(payload);
  });
  const settle = async () => {
    const key = randomUUID();
    const arrived = new Promise<void>((resolve) => markers.set(key, resolve));
    // Notifications reach a listener in commit order: the marker comes after everything before it.
    await notifySpecChange(t.db, { kind: 'marker', key });
    await arrived;
    return [...received].sort();
  };
  return { settle, unlisten };
}

async function agentWithEnvironment(db: Db, name: string): Promise<{ agentId: string; envId: string }> {
  const agent = await createAgent(db, { name });
  if (agent.kind !== 'ok') throw new Error(agent.reason);
  const env = await createEnvironment(db, agent.value.id, { region: 'nyc3', size: 's-1vcpu-1gb' });
  if (env.kind !== 'ok') throw new Error(env.reason);
  return { agentId: agent.value.id, envId: env.value.id };
}

describeEachDatabase('spec changes', (t) => {
  it('delivers spec changes on commit only, as kind:key', async () => {
    const received: string[] = [];
    let arrived: () => void = () => {};
    const unlisten = await t.database.listen(SPEC_CHANNEL, (payload) => {
      received.push(payload);
      arrived();
    });
    try {
      await t.db
        .transaction(async (tx) => {
          await notifySpecChange(tx, { kind: 'environment', key: 'rolled-back' });
          throw new Error('roll back');
        })
        .catch(() => {});
      const next = new Promise<void>((resolve) => (arrived = resolve));
      await t.db.transaction((tx) => notifySpecChange(tx, { kind: 'environment', key: 'e-1' }));
      await next;
      expect(received).toEqual(['environment:e-1']);
      expect(parseSpecChange(received[0]!)).toEqual({ kind: 'environment', key: 'e-1' });
    } finally {
      await unlisten();
    }
  });

  it('refuses a kind that would not parse back, and parses only kind:key', async () => {
    await expect(notifySpecChange(t.db, { kind: 'a:b', key: 'x' })).rejects.toThrow(/not a plain name/);
    expect(parseSpecChange('tools:abc:def')).toEqual({ kind: 'tools', key: 'abc:def' });
    expect(parseSpecChange('nokey:')).toBeUndefined();
    expect(parseSpecChange(':x')).toBeUndefined();
    expect(parseSpecChange('plain')).toBeUndefined();
  });

  it('announces a committed write always, a rolled-back one never, in the reconcilers\' kinds and keys', async () => {
    const { settle, unlisten } = await listenSpec(t);
    try {
      const kept = await agentWithEnvironment(t.db, `kept-${randomUUID()}`);
      const rolled = await t.db
        .transaction(async (tx) => {
          const made = await agentWithEnvironment(tx, `rolled-${randomUUID()}`);
          await announceAgentChange(tx, made.agentId);
          await announceToolsChange(tx, made.envId);
          await announceAgentToolsChange(tx, kept.agentId);
          throw new Error(`roll back ${made.agentId}`);
        })
        .catch((error: Error) => error.message);
      expect(rolled).toMatch(/^roll back /);
      expect(await settle()).toEqual([]);

      await t.db.transaction(async (tx) => {
        await announceAgentChange(tx, kept.agentId);
        // Announced twice in one transaction: delivered once.
        await announceToolsChange(tx, kept.envId);
      });
      expect(await settle()).toEqual([`environment:${kept.agentId}`, `tools:${kept.envId}`].sort());

      await t.db.transaction((tx) => announceAgentToolsChange(tx, kept.agentId));
      expect(await settle()).toEqual([`environment:${kept.agentId}`, `tools:${kept.envId}`, `tools:${kept.envId}`].sort());
      // An agent id that is no uuid announces only its environment key, and fails nothing.
      await t.db.transaction((tx) => announceAgentChange(tx, 'not-a-uuid'));
      expect(await settle()).toContain('environment:not-a-uuid');
    } finally {
      await unlisten();
    }
  });
});
