/**
 * GitOps end to end with real git: a bare repository reached over file://, deliveries signed
 * with @octokit/webhooks' signer and by hand, the leader's sync applying the manifests as
 * `apply` does, and the faults of issue 16 — on both databases.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rowsOf } from '@toolbelt/schema';
import { describeEachDatabase, truncateAll } from '@toolbelt/schema/testing';
import { sql } from 'drizzle-orm';
import { afterEach, expect, it } from 'vitest';
import {
  agent,
  deliver,
  type GitopsController,
  GitRemote,
  hmac,
  octokitSignature,
  pushPayload,
  SECRET,
  serveSmartHttp,
  startGitopsController,
} from './helpers.ts';
import { onPostgres, openPool } from '../support/databases.ts';

const POLL = { timeout: 20_000, interval: 50 };

describeEachDatabase('GitOps: webhook and sync', (t) => {
  let remote: GitRemote | undefined;
  let controller: GitopsController | undefined;
  afterEach(async () => {
    await controller?.stop();
    controller = undefined;
    remote?.remove();
    remote = undefined;
    await truncateAll(t.db);
  });

  const status = async () => (await controller!.api('GET', '/v1/gitops')).body;
  const syncCount = async () => rowsOf<{ n: number }>(await t.db.execute(sql`select count(*)::int as n from gitops_syncs`))[0]!.n;

  it('applies the branch at start, then a signed push; replays, bad signatures and other branches do nothing', async () => {
    remote = new GitRemote();
    const first = remote.commit({ 'agents/alpha.yaml': agent('alpha') }, 'alpha');
    controller = await startGitopsController(t, { TOOLBELT_GITOPS_REPO: remote.url });
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(first);
    expect((await status()).status).toBe('Synced');
    expect((await controller.api('GET', '/v1/agents/alpha')).status).toBe(200);

    const second = remote.commit({ 'agents/beta.yaml': agent('beta') }, 'add beta');
    const body = pushPayload(second);
    const delivery = randomUUID();
    const url = controller.running.url;
    // Unsigned, wrongly signed: 401, nothing recorded.
    expect((await deliver(url, body, { delivery })).status).toBe(401);
    expect((await deliver(url, body, { delivery, signature: hmac('another secret', body) })).status).toBe(401);
    expect(rowsOf(await t.db.execute(sql`select 1 from gitops_requests`))).toHaveLength(0);
    // Signed by @octokit/webhooks: scheduled, answered at once.
    const answered = await deliver(url, body, { delivery, signature: await octokitSignature(SECRET, body) });
    expect(answered).toMatchObject({ status: 202, body: { scheduled: true, commit: second } });
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(second);
    const last = (await status()).last;
    expect(last).toMatchObject({
      trigger: 'webhook',
      commit: second,
      author: 'Ada Lovelace <ada@example.com>',
      message: 'add beta',
      result: 'applied',
      changes: [{ kind: 'Agent', name: 'beta', action: 'created' }],
    });
    // Replayed: acknowledged, not done again.
    const replay = await deliver(url, body, { delivery, signature: hmac(SECRET, body) });
    expect(replay).toMatchObject({ status: 200, body: { duplicate: true } });
    // Another branch, another event, a ping: acknowledged and ignored.
    const other = pushPayload(second, 'refs/heads/feature');
    expect((await deliver(url, other, { signature: hmac(SECRET, other) })).body).toMatchObject({ ignored: expect.stringMatching(/feature/) });
    const issue = JSON.stringify({ action: 'opened' });
    expect((await deliver(url, issue, { event: 'issues', signature: hmac(SECRET, issue) })).body).toMatchObject({ ignored: expect.any(String) });
    expect((await deliver(url, '{}', { event: 'ping', signature: hmac(SECRET, '{}') })).status).toBe(200);
    expect(await syncCount()).toBe(2);
    // Objects carry their source.
    expect((await status()).objects).toEqual([
      expect.objectContaining({ kind: 'Agent', name: 'alpha', file: 'agents/alpha.yaml', commit: second, status: 'Synced' }),
      expect.objectContaining({ kind: 'Agent', name: 'beta', file: 'agents/beta.yaml', commit: second, status: 'Synced' }),
    ]);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/toolbelt_gitops_webhook_deliveries_total\{outcome="bad_signature"\} 2/);
    expect(metrics).toMatch(/toolbelt_gitops_webhook_deliveries_total\{outcome="duplicate"\} 1/);
    expect(metrics).toContain(`toolbelt_gitops_applied_commit_info{commit="${second}"} 1`);
    expect(metrics).toMatch(/toolbelt_gitops_last_sync_success 1/);
  });

  it('a bad manifest fails naming file, document and field, applies nothing; the next good push recovers', async () => {
    remote = new GitRemote();
    const good = remote.commit({ 'agents/alpha.yaml': agent('alpha') });
    controller = await startGitopsController(t, { TOOLBELT_GITOPS_REPO: remote.url });
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(good);

    const bad = remote.commit({
      'agents/gamma.yaml': agent('gamma'),
      'agents/two.yaml': `${agent('delta')}---\napiVersion: toolbelt.dev/v1\nkind: Agent\nmetadata:\n  name: epsilon\nspec:\n  description: 42\n`,
    });
    const body = pushPayload(bad);
    expect((await deliver(controller.running.url, body, { signature: hmac(SECRET, body) })).status).toBe(202);
    await expect.poll(async () => (await status()).status, POLL).toBe('Failed');
    const last = (await status()).last;
    expect(last).toMatchObject({ commit: bad, result: 'failed', problems: [{ file: 'agents/two.yaml', document: 2, field: 'spec.description' }] });
    expect(last.error).toMatch(/agents\/two\.yaml#2 spec\.description/);
    expect((await status()).applied_commit).toBe(good);
    // All or nothing: the good documents of that commit were not applied either.
    expect((await controller.api('GET', '/v1/agents/gamma')).status).toBe(404);

    const fixed = remote.commit({ 'agents/two.yaml': agent('delta') });
    const again = pushPayload(fixed);
    await deliver(controller.running.url, again, { signature: hmac(SECRET, again) });
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(fixed);
    expect((await status()).status).toBe('Synced');
    expect((await controller.api('GET', '/v1/agents/gamma')).status).toBe(200);
  });

  it('a sync of the commit already applied writes nothing', async () => {
    remote = new GitRemote();
    const commit = remote.commit({ 'agents/alpha.yaml': agent('alpha') });
    controller = await startGitopsController(t, { TOOLBELT_GITOPS_REPO: remote.url });
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(commit);
    const before = rowsOf(await t.db.execute(sql`select id, updated_at, generation from agents`));
    const syncs = await syncCount();
    const sync = await controller.api('POST', '/v1/gitops/sync');
    expect(sync.status).toBe(202);
    await expect.poll(async () => (await status()).pending, POLL).toBe(0);
    expect(await syncCount()).toBe(syncs);
    expect(rowsOf(await t.db.execute(sql`select id, updated_at, generation from agents`))).toEqual(before);
    expect((await status()).status).toBe('Synced');
  });

  it('an unreachable remote is retried with backoff and the status says why', async () => {
    controller = await startGitopsController(t, { TOOLBELT_GITOPS_REPO: `file:///nonexistent/${randomUUID()}.git` });
    await expect.poll(async () => (await status()).last?.attempts ?? 0, POLL).toBeGreaterThanOrEqual(2);
    const now = await status();
    expect(now.status).toBe('Failed');
    expect(now.last).toMatchObject({ result: 'failed', commit: null, trigger: 'poll' });
    expect(now.last.error).toMatch(/does not appear to be a git repository|not found|No such file/i);
    // Retries fold into one row.
    expect(await syncCount()).toBe(1);
  });

  it('two quick pushes: the later commit wins, each applied at most once; a force-push is followed', async () => {
    remote = new GitRemote();
    const base = remote.commit({ 'agents/alpha.yaml': agent('alpha') });
    controller = await startGitopsController(t, { TOOLBELT_GITOPS_REPO: remote.url });
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(base);
    const one = remote.commit({ 'agents/beta.yaml': agent('beta') });
    const b1 = pushPayload(one);
    await deliver(controller.running.url, b1, { signature: hmac(SECRET, b1) });
    const two = remote.commit({ 'agents/gamma.yaml': agent('gamma') });
    const b2 = pushPayload(two);
    await deliver(controller.running.url, b2, { signature: hmac(SECRET, b2) });
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(two);
    await expect.poll(async () => (await status()).pending, POLL).toBe(0);
    const commits = ((await status()).history as { commit: string }[]).map((s) => s.commit);
    expect(new Set(commits).size).toBe(commits.length);

    const rewritten = remote.rewrite({ 'agents/alpha.yaml': agent('alpha', 'rewritten') }, 'force');
    const b3 = pushPayload(rewritten);
    await deliver(controller.running.url, b3, { signature: hmac(SECRET, b3) });
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(rewritten);
    expect((await controller.api('GET', '/v1/agents/alpha')).body.description).toBe('rewritten');
  });

  it('with prune, a deleted file deletes its object', async () => {
    remote = new GitRemote();
    const both = remote.commit({ 'agents/alpha.yaml': agent('alpha'), 'agents/beta.yaml': agent('beta') });
    controller = await startGitopsController(t, { TOOLBELT_GITOPS_REPO: remote.url, TOOLBELT_GITOPS_PRUNE: 'true' });
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(both);
    const gone = remote.commit({ 'agents/beta.yaml': null }, 'drop beta');
    const body = pushPayload(gone);
    await deliver(controller.running.url, body, { signature: hmac(SECRET, body) });
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(gone);
    expect((await status()).last.changes).toEqual([{ kind: 'Agent', name: 'beta', action: 'deleted' }]);
    expect((await status()).objects.map((o: { name: string }) => o.name)).toEqual(['alpha']);
  });

  it('an object changed through the API is OutOfSync; self-heal puts it back', async () => {
    remote = new GitRemote();
    const commit = remote.commit({ 'agents/alpha.yaml': agent('alpha', 'from git') });
    controller = await startGitopsController(t, { TOOLBELT_GITOPS_REPO: remote.url });
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(commit);
    expect((await controller.api('PATCH', '/v1/agents/alpha', { description: 'by hand' })).status).toBe(200);
    await controller.api('POST', '/v1/gitops/sync');
    await expect.poll(async () => (await status()).status, POLL).toBe('OutOfSync');
    expect((await status()).objects[0]).toMatchObject({ name: 'alpha', status: 'OutOfSync', drift: ['Agent changed description'] });
    const events = await controller.api('GET', '/v1/events?object=gitops/repo&limit=20');
    expect((events.body.items as { reason: string }[]).map((e) => e.reason)).toContain('OutOfSync');
    await controller.stop();

    controller = await startGitopsController(t, { TOOLBELT_GITOPS_REPO: remote.url, TOOLBELT_GITOPS_SELF_HEAL: 'true' });
    await expect.poll(async () => (await controller!.api('GET', '/v1/agents/alpha')).body.description, POLL).toBe('from git');
    await expect.poll(async () => (await status()).status, POLL).toBe('Synced');
  });

  it('with prune, a renamed file keeps its object (the commit still declares it), now from the new file', async () => {
    remote = new GitRemote();
    const before = remote.commit({ 'agents/alpha.yaml': agent('alpha'), 'agents/beta.yaml': agent('beta') });
    controller = await startGitopsController(t, { TOOLBELT_GITOPS_REPO: remote.url, TOOLBELT_GITOPS_PRUNE: 'true' });
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(before);
    const betaId = (await controller.api('GET', '/v1/agents/beta')).body.id;
    const renamed = remote.commit({ 'agents/beta.yaml': null, 'agents/b.yaml': agent('beta') }, 'rename beta');
    const body = pushPayload(renamed);
    await deliver(controller.running.url, body, { signature: hmac(SECRET, body) });
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(renamed);
    expect((await status()).last.changes.filter((c: { action: string }) => c.action !== 'unchanged')).toEqual([]);
    expect((await controller.api('GET', '/v1/agents/beta')).body.id, 'the same agent, not deleted and made again').toBe(betaId);
    expect((await status()).objects.find((o: { name: string }) => o.name === 'beta')).toMatchObject({ file: 'agents/b.yaml', commit: renamed });
  });

  it("over git's smart HTTP with a token file: applies; a wrong token fails saying why and never shows the token", async () => {
    remote = new GitRemote();
    const commit = remote.commit({ 'agents/alpha.yaml': agent('alpha') });
    const token = `ghp_${randomUUID().replaceAll('-', '')}`;
    const http = await serveSmartHttp(remote, token);
    const secrets = mkdtempSync(join(tmpdir(), 'toolbelt-gitops-token-'));
    try {
      writeFileSync(join(secrets, 'good'), `${token}\n`);
      writeFileSync(join(secrets, 'bad'), 'ghp_wrong\n');
      controller = await startGitopsController(t, { TOOLBELT_GITOPS_REPO: http.url, TOOLBELT_GITOPS_TOKEN_FILE: join(secrets, 'good') });
      await expect.poll(async () => (await status()).applied_commit, POLL).toBe(commit);
      expect(http.requests.some((r) => r.path.endsWith('/git-upload-pack') && r.status === 200), JSON.stringify(http.requests)).toBe(true);
      await controller.stop();

      controller = await startGitopsController(t, { TOOLBELT_GITOPS_REPO: http.url, TOOLBELT_GITOPS_TOKEN_FILE: join(secrets, 'bad') });
      remote.commit({ 'agents/beta.yaml': agent('beta') });
      await controller.api('POST', '/v1/gitops/sync');
      await expect.poll(async () => (await status()).last?.result, POLL).toBe('failed');
      const failed = await status();
      expect(failed.last.error).toMatch(/the remote refused the credentials \(check TOOLBELT_GITOPS_TOKEN_FILE/);
      expect(JSON.stringify(failed)).not.toContain('ghp_wrong');
      expect(JSON.stringify(failed)).not.toContain(token);
      expect(http.requests.at(-1)?.status).toBe(401);
    } finally {
      await http.close();
    }
  });

  const onPg = onPostgres(t, 'two replicas need two database sessions; PGlite is one');
  onPg('a push that lands on the follower while leadership moves is applied once, by the new leader', async () => {
    remote = new GitRemote();
    const first = remote.commit({ 'agents/alpha.yaml': agent('alpha') });
    const env = { TOOLBELT_GITOPS_REPO: remote.url, TOOLBELT_LEASE_TTL_MS: '1500', TOOLBELT_LEASE_RENEW_MS: '450' };
    const leader = await startGitopsController(t, env);
    controller = leader;
    await expect.poll(async () => (await status()).applied_commit, POLL).toBe(first);
    const pool = await openPool({ url: t.url!, maxConnections: 4 });
    try {
      const follower = await startGitopsController(t, env, pool);
      expect(follower.running.loop!.elector.isLeader).toBe(false);
      const second = remote.commit({ 'agents/beta.yaml': agent('beta') }, 'add beta');
      const body = pushPayload(second);
      // The leader stops (a rolling upgrade) as the push reaches the follower.
      const stopping = leader.stop();
      controller = follower;
      expect((await deliver(follower.running.url, body, { signature: hmac(SECRET, body) })).status).toBe(202);
      await stopping;
      await expect.poll(() => follower.running.loop!.elector.isLeader, POLL).toBe(true);
      await expect.poll(async () => (await status()).applied_commit, POLL).toBe(second);
      const applied = rowsOf<{ n: number }>(await t.db.execute(sql`select count(*)::int as n from gitops_syncs where commit = ${second} and result = 'applied'`));
      expect(applied[0]!.n, 'applied exactly once').toBe(1);
      expect((await controller.api('GET', '/v1/agents/beta')).status).toBe(200);
      await follower.stop();
      controller = undefined;
    } finally {
      await pool.close();
    }
  });
});
