/** `toolbelt gitops status|sync|history`, the real binary against a controller following a real repository. */
import { describeEachDatabase, truncateAll } from '@toolbelt/schema/testing';
import { afterEach, expect, it } from 'vitest';
import { toolbelt } from '../cli/run-toolbelt.ts';
import { ADMIN_TOKEN, agent, type GitopsController, GitRemote, startGitopsController } from './helpers.ts';

describeEachDatabase('toolbelt gitops', (t) => {
  let remote: GitRemote | undefined;
  let controller: GitopsController | undefined;
  afterEach(async () => {
    await controller?.stop();
    remote?.remove();
    await truncateAll(t.db);
  });

  it('status, sync (a new commit, then nothing to do), history; a bad manifest exits 1 naming the file', async () => {
    remote = new GitRemote();
    const first = remote.commit({ 'agents/alpha.yaml': agent('alpha') }, 'alpha');
    controller = await startGitopsController(t, { TOOLBELT_GITOPS_REPO: remote.url });
    const env = { TOOLBELT_SERVER: controller.running.url, TOOLBELT_TOKEN: ADMIN_TOKEN };
    await expect.poll(async () => (await controller!.api('GET', '/v1/gitops')).body.applied_commit, { timeout: 20_000 }).toBe(first);

    const status = await toolbelt(['gitops', 'status'], { env });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^Synced  file://\\S+ main  applied ${first.slice(0, 12)}`));

    const second = remote.commit({ 'agents/beta.yaml': agent('beta') }, 'add beta');
    const synced = await toolbelt(['gitops', 'sync'], { env });
    expect(synced.code).toBe(0);
    expect(synced.stdout).toMatch(new RegExp(`applied, manual, commit ${second.slice(0, 12)} "add beta"`));
    expect(synced.stdout).toMatch(/created\s+Agent\/beta/);
    const again = await toolbelt(['gitops', 'sync'], { env });
    expect(again.stdout).toMatch(/nothing to do: commit \w{12} is applied/);
    // describe says where an agent came from.
    const described = await toolbelt(['describe', 'agent', 'beta'], { env });
    expect(described.stdout).toMatch(new RegExp(`^Source: +Agent from file://\\S+ agents/beta\\.yaml @ ${second.slice(0, 12)}  Synced$`, 'm'));

    remote.commit({ 'agents/bad.yaml': 'apiVersion: toolbelt.dev/v1\nkind: Agent\nmetadata:\n  name: Not A Name\n' }, 'bad');
    const failed = await toolbelt(['gitops', 'sync'], { env });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/agents\/bad\.yaml#1 metadata\.name: /);

    const history = await toolbelt(['gitops', 'history'], { env });
    expect(history.stdout.split('\n')[0]).toMatch(/^ID\s+RESULT\s+TRIGGER\s+COMMIT/);
    expect(history.stdout).toMatch(/failed\s+manual/);
    expect(history.stdout).toMatch(/applied\s+poll/);
  }, 120_000);
});
