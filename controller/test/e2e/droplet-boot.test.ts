/**
 * The droplet's install, run for real: the whole controller (embedded simulator, Ready
 * waiting for the agent) renders the user_data of an environment's droplet exactly as for
 * DigitalOcean; instead of a local droplet, that document boots a podman container of a
 * Debian userland made from Debian's packages (debootstrap; systemd as PID 1; host network),
 * which writes its files and runs its runcmd as cloud-init would (container-droplet.ts).
 * The install script downloads this machine's Node from a mirror on loopback laid out like
 * nodejs.org/dist (node-mirror.ts) and checks SHASUMS256.txt, downloads the agent release
 * the document pins from the controller and checks its SHA-256, and starts the systemd unit;
 * the agent enrolls with its token and says hello → AgentConnected, Ready. Then the
 * controller sends `update_agent` with the pin of a second release it serves: the agent
 * installs it and exits, systemd (Restart=always) starts the new version, which says hello.
 * A release that exits at start is rolled back by the droplet itself once its grace is over
 * (the update watcher), and the previous release says hello again.
 * A Node tarball or a release that does not match its hash stops the install with one clear
 * `toolbelt-install: FAILED: …` line, and nothing unverified is installed or started.
 *
 * Needs podman (scripts/install-container-engine.sh) and Debian's mirror the first time
 * (scripts/droplet-image.sh, then cached). Prints its timings (docs/performance.md).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAgentRelease } from '@toolbelt/droplet-agent/release-build';
import { extractAgentBootstrap, DROPLET_PATHS } from '@toolbelt/schema/cloud-init';
import { getAgentSession } from '@toolbelt/schema';
import { describeEachDatabase, describeIf } from '@toolbelt/schema/testing';
import type { DropletInfo } from '@toolbelt/simulator';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { type CloudConfig, ContainerDroplet, dropletImage, liveContainers, podmanAvailable, readCloudConfig, sweepLeftoverDroplets } from './container-droplet.ts';
import { type E2E, startE2E } from '../support/e2e.ts';
import { commandOutcome } from '../support/commands.ts';
import { eventually } from '../support/eventually.ts';
import { type NodeMirror, startNodeMirror } from './node-mirror.ts';

interface Environment {
  id: string;
  status: string;
  droplet_id: number | null;
  conditions: { type: string; status: string; reason: string }[];
}

/** Droplets the simulator booted, in order; the test runs each one's user_data itself. */
const booted: DropletInfo[] = [];
const containers: ContainerDroplet[] = [];
let mirror: NodeMirror | undefined;
let e2e: E2E | undefined;
/** The controller's releases directory: the release it builds, and NEXT_VERSION beside it. */
let releasesDir: string | undefined;
const NEXT_VERSION = '99.0.0-next';
/** A release that answers `--version` but exits at start: it never says hello. */
const BROKEN_VERSION = '99.0.1-broken';

function addBrokenRelease(dir: string): void {
  const code = Buffer.from(
    `if (process.argv.includes('--version')) { console.log('${BROKEN_VERSION}'); process.exit(0); }\nconsole.error('broken agent: exiting at start');\nprocess.exit(1);\n`,
  );
  mkdirSync(join(dir, BROKEN_VERSION));
  writeFileSync(join(dir, BROKEN_VERSION, 'agent.mjs'), code);
  writeFileSync(join(dir, BROKEN_VERSION, 'release.json'), JSON.stringify({ version: BROKEN_VERSION, sha256: createHash('sha256').update(code).digest('hex'), bytes: code.length }));
}

afterEach(async () => {
  await Promise.all(containers.splice(0).map((c) => c.remove()));
  expect([...liveContainers], 'containers left running').toEqual([]);
});

/** Switches an agent's environment on; the document of the droplet the simulator booted for it. */
async function bootDocument(e: E2E, agent: string): Promise<{ droplet: DropletInfo; userData: string; env: () => Promise<Environment> }> {
  const created = await e.call('POST', '/v1/agents', { name: agent, environment: { active: true } });
  expect(created.status, created.text).toBe(201);
  const env = async () => (await e.call('GET', `/v1/agents/${agent}/environment`)).body as Environment;
  const droplet = await eventually(
    async () => {
      const { droplet_id } = await env();
      return booted.find((d) => d.id === droplet_id);
    },
    async () => `no droplet booted for ${agent}: ${JSON.stringify(await env())}`,
    60_000,
  );
  expect(droplet.userData).toBeDefined();
  return { droplet, userData: droplet.userData!, env };
}

/** The document with one assignment of its install script changed (what a tampered document or mirror amounts to). */
function withInstallLine(doc: CloudConfig, name: string, value: string): CloudConfig {
  const write_files = doc.write_files.map((f) =>
    f.path === DROPLET_PATHS.installScript ? { ...f, content: f.content.replace(new RegExp(`^${name}='[^']*'$`, 'm'), `${name}='${value}'`) } : f,
  );
  expect(write_files).not.toEqual(doc.write_files);
  return { ...doc, write_files };
}

async function boot(image: string, droplet: DropletInfo): Promise<ContainerDroplet> {
  const box = await ContainerDroplet.boot(image, droplet.name);
  containers.push(box);
  return box;
}

/** The packages the document asks for, less docker.io: the docker runtime is tested on its own (tools-docker). */
const imageFor = (doc: CloudConfig) => dropletImage(doc.packages.filter((p) => p !== 'docker.io'));

describeIf(podmanAvailable(), 'podman is not installed or not usable as root: run scripts/install-container-engine.sh')('a droplet install, run for real', () => {
  // The database plays no part here and each run boots containers: one engine is enough.
  describeEachDatabase('cloud-init user_data in a Debian container', (t) => {
    if (t.kind !== 'pglite') return;

    beforeAll(async () => {
      await sweepLeftoverDroplets();
      mirror = await startNodeMirror();
      releasesDir = mkdtempSync(join(tmpdir(), 'toolbelt-releases-'));
      await buildAgentRelease({ outDir: releasesDir, version: NEXT_VERSION });
      addBrokenRelease(releasesDir);
      e2e = await startE2E(
        t,
        {
          TOOLBELT_AGENT_REQUIRED: 'true',
          TOOLBELT_AGENT_RELEASES_DIR: releasesDir,
          TOOLBELT_NODE_DIST_URL: mirror.url,
          TOOLBELT_NODE_VERSION: mirror.version,
          // The container's first boot may be slow on a busy machine: no power cycle meanwhile.
          TOOLBELT_AGENT_HELLO_GRACE_MS: '600000',
        },
        { lifecycle: { simulatorHooks: { onBoot: (d) => void booted.push(d), publicIpv4: () => '127.0.0.1' } } },
      );
    }, 180_000);

    afterAll(async () => {
      await e2e?.stop();
      await mirror?.close();
      if (releasesDir) rmSync(releasesDir, { recursive: true, force: true });
    });

    it(
      'installs verified Node and the pinned release, starts the unit under systemd, the agent enrolls and says hello; self-update, and rollback of a release that never says hello',
      async () => {
        const e = e2e!;
        const { droplet, userData, env } = await bootDocument(e, 'real');
        const doc = readCloudConfig(userData);
        const pin = extractAgentBootstrap(userData)!.release;
        expect(doc.runcmd).toEqual([[DROPLET_PATHS.installScript]]);
        const image = imageFor(doc);

        const box = await boot(image, droplet);
        const systemdUp = Date.now();
        const run = await box.applyCloudConfig(doc, String(droplet.id));
        const log = run.lines.map((l) => l.text);
        expect(run.code, log.join('\n')).toBe(0);
        const tarball = `node-v${mirror!.version}-linux-x64.tar.xz`;
        expect(log).toContain(`${tarball}: OK`); // sha256sum -c against SHASUMS256.txt
        expect(log).toContain(`toolbelt-install: Node ${mirror!.version} installed`);
        expect(log).toContain(`toolbelt-install: agent ${pin.version} installed (sha256 ${pin.sha256})`);
        expect(log).toContain('toolbelt-install: toolbelt-agent.service started');
        expect(mirror!.requests).toEqual(expect.arrayContaining([`/v${mirror!.version}/${tarball}`, `/v${mirror!.version}/SHASUMS256.txt`]));

        const environment = (await env()).id;
        const session = await eventually(
          async () => {
            const s = await getAgentSession(e.controller.database.db, environment);
            return s?.hello_at ? s : undefined;
          },
          async () => `no hello: ${await box.sh('journalctl -u toolbelt-agent --no-pager | tail -n 30')}`,
          120_000,
        );
        expect(session).toMatchObject({ agent_version: pin.version, hostname: droplet.name, reported_droplet_id: droplet.id });
        const ready = await eventually(
          async () => {
            const x = await env();
            const is = (type: string) => x.conditions.find((c) => c.type === type)?.status === 'True';
            return x.status === 'active' && is('AgentConnected') && is('Ready') ? x : undefined;
          },
          async () => JSON.stringify(await env()),
          60_000,
        );
        expect(ready.droplet_id).toBe(droplet.id);

        // On the droplet: systemd runs the unit, the credential is private, the Node is the
        // mirror's, and the npm the agent's config names runs under it (npm tools; the agent
        // puts its node first on npm's PATH, see npm-install.test.ts).
        expect((await box.sh('systemctl is-active toolbelt-agent.service')).trim()).toBe('active');
        expect((await box.sh(`stat -c %a ${DROPLET_PATHS.stateDir}/credential.json`)).trim()).toBe('600');
        expect((await box.sh(`readlink ${DROPLET_PATHS.installDir}/current`)).trim()).toBe(`${DROPLET_PATHS.installDir}/releases/${pin.version}`);
        expect((await box.sh(`${DROPLET_PATHS.node}/bin/node --version`)).trim()).toBe(`v${mirror!.version}`);
        expect((await box.sh(`${DROPLET_PATHS.node}/bin/node ${DROPLET_PATHS.node}/bin/npm --version`)).trim()).toMatch(/^\d+\.\d+\.\d+$/);

        const at = (prefix: string) => run.lines.find((l) => l.text.startsWith(prefix))!.at;
        const hello = session.hello_at!.getTime();
        const timings = {
          containerToSystemdMs: systemdUp - box.startedAt,
          writeFilesMs: run.startedAt - systemdUp,
          nodeDownloadVerifyExtractMs: at('toolbelt-install: Node') - run.startedAt,
          releaseDownloadVerifyMs: at('toolbelt-install: agent') - at('toolbelt-install: Node'),
          unitStartToHelloMs: hello - at('toolbelt-install: agent'),
          containerStartToHelloMs: hello - box.startedAt,
          containerStartToHelloWithoutNodeMs: hello - box.startedAt - (at('toolbelt-install: Node') - run.startedAt),
        };
        console.log(`droplet boot timings: ${JSON.stringify(timings)}`);

        // Self-update under systemd: the agent installs the served release and exits; the unit
        // starts the new version (Restart=always), which says hello; `previous` is the first.
        const releases = (await (await fetch(`${e.controller.url}/agent/v1/releases`)).json()) as { releases: { version: string; sha256: string; url: string }[] };
        const pinOf = (version: string) => {
          const r = releases.releases.find((x) => x.version === version)!;
          return { version, url: r.url, sha256: r.sha256 };
        };
        const journal = async () => box.sh('journalctl -u toolbelt-agent --no-pager | tail -n 30');
        /** The time of a hello from `version` after `since`. */
        const helloFrom = (version: string, since: number) =>
          eventually(
            async () => {
              const s = await getAgentSession(e.controller.database.db, environment);
              return s?.agent_version === version && s.hello_at && s.hello_at.getTime() > since ? s.hello_at.getTime() : undefined;
            },
            async () => `no hello from ${version}: ${await journal()}`,
            90_000,
          );
        const update = async (payload: Record<string, unknown>) => {
          // What the fleet's reconciler would do: write the command; the hub holding the socket sends it.
          const result = await commandOutcome(e.controller.database.db, { environmentId: environment, commandType: 'update_agent', payload, timeoutMs: 60_000 }, 60_000);
          expect(result, JSON.stringify(result)).toMatchObject({ status: 'done' });
        };
        const updateSent = Date.now();
        await update(pinOf(NEXT_VERSION));
        const nextHello = await helloFrom(NEXT_VERSION, updateSent);
        // The new release said hello: its trial is over (no watcher will roll it back).
        await eventually(async () => (await box.sh(`test -e ${DROPLET_PATHS.installDir}/update-trial.json && echo on || echo over`)) === 'over', journal, 30_000);
        expect((await box.sh(`readlink ${DROPLET_PATHS.installDir}/current`)).trim()).toBe(`${DROPLET_PATHS.installDir}/releases/${NEXT_VERSION}`);
        expect((await box.sh(`readlink ${DROPLET_PATHS.installDir}/previous`)).trim()).toBe(`${DROPLET_PATHS.installDir}/releases/${pin.version}`);
        expect((await box.sh('systemctl is-active toolbelt-agent.service')).trim()).toBe('active');
        console.log(`droplet self-update: update_agent sent → hello from ${NEXT_VERSION} in ${nextHello - updateSent} ms`);

        // A release that exits at start: installed (it is what was pinned), never says hello;
        // past its grace the droplet's watcher points `current` back and restarts the unit.
        const brokenSent = Date.now();
        await update({ ...pinOf(BROKEN_VERSION), helloGraceMs: 10_000 });
        const back = await helloFrom(NEXT_VERSION, brokenSent);
        expect(back - brokenSent).toBeGreaterThanOrEqual(10_000);
        expect((await box.sh(`readlink ${DROPLET_PATHS.installDir}/current`)).trim()).toBe(`${DROPLET_PATHS.installDir}/releases/${NEXT_VERSION}`);
        const record = JSON.parse(await box.sh(`cat ${DROPLET_PATHS.installDir}/rolled-back.json`)) as { version: string; to: string };
        expect(record).toMatchObject({ version: BROKEN_VERSION, to: `${DROPLET_PATHS.installDir}/releases/${NEXT_VERSION}` });
        expect(await journal()).toContain('broken agent: exiting at start');
        console.log(`droplet rollback: update_agent to a broken release sent → hello from ${NEXT_VERSION} again in ${back - brokenSent} ms (grace 10 s)`);
      },
      600_000,
    );

    it(
      'stops with one clear line on a Node tarball or a release that does not match its hash, and installs nothing unverified',
      async () => {
        const e = e2e!;
        const { droplet, userData, env } = await bootDocument(e, 'tampered');
        const doc = readCloudConfig(userData);
        const pin = extractAgentBootstrap(userData)!.release;
        const box = await boot(imageFor(doc), droplet);

        // A mirror whose SHASUMS256.txt does not match its tarball: no Node, no agent.
        const badNode = await box.applyCloudConfig(withInstallLine(doc, 'NODE_DIST', `${mirror!.url}/tampered`), String(droplet.id));
        const tarball = `node-v${mirror!.version}-linux-x64.tar.xz`;
        expect(badNode.code).not.toBe(0);
        expect(badNode.lines.map((l) => l.text)).toContain(`toolbelt-install: FAILED: ${tarball} does not match its SHA-256 in SHASUMS256.txt; not installing it`);
        expect(await box.sh(`test -e ${DROPLET_PATHS.node}/bin/node && echo present || echo absent`)).toBe('absent');

        // A release that is not the pinned one (here: the pin changed): Node installs, the agent does not.
        const wrong = pin.sha256.replace(/^./, (c) => (c === '0' ? '1' : '0'));
        const badRelease = await box.applyCloudConfig(withInstallLine(doc, 'RELEASE_SHA256', wrong), String(droplet.id));
        const log = badRelease.lines.map((l) => l.text);
        expect(badRelease.code).not.toBe(0);
        expect(log).toContain(`toolbelt-install: Node ${mirror!.version} installed`);
        expect(log).toContain(`toolbelt-install: FAILED: the agent release from ${pin.url} has SHA-256 ${pin.sha256}, not the pinned ${wrong}; not installing it`);
        expect(log.filter((l) => l.includes('FAILED'))).toHaveLength(1);
        expect(await box.sh(`ls -A ${DROPLET_PATHS.installDir}/releases/${pin.version}; test -e ${DROPLET_PATHS.installDir}/current || echo no-current`)).toBe('no-current');
        expect((await box.exec(['systemctl', 'is-active', 'toolbelt-agent.service'])).code).not.toBe(0);
        expect(await getAgentSession(e.controller.database.db, (await env()).id)).toBeUndefined();
      },
      600_000,
    );
  });
});
