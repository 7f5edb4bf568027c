/**
 * The agent release served over HTTP on 127.0.0.1:0, as the controller serves it: built (when
 * stale) with the real build, then `GET /agent/v1/releases/VERSION/agent.mjs`. `pin` is what
 * user_data pins; `requests` counts downloads. `{ version }` builds (in a temporary directory)
 * and serves a release of that version instead: what a self-update moves to.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildAgentRelease, DEFAULT_RELEASES_DIR, ensureAgentRelease, RELEASE_FILE } from '../../release/build.ts';
import { tempDir } from './agent-process.ts';

export interface ReleaseServer {
  pin: { agentVersion: string; agentReleaseUrl: string; agentReleaseSha256: string };
  requests: number;
  close(): Promise<void>;
}

export async function serveAgentRelease(options: { version?: string } = {}): Promise<ReleaseServer> {
  const outDir = options.version ? tempDir('toolbelt-releases-') : DEFAULT_RELEASES_DIR;
  const manifest = options.version ? await buildAgentRelease({ outDir, version: options.version }) : await ensureAgentRelease();
  const code = await readFile(join(outDir, manifest.version, RELEASE_FILE));
  const path = `/agent/v1/releases/${manifest.version}/${RELEASE_FILE}`;
  const served: ReleaseServer = {
    pin: { agentVersion: manifest.version, agentReleaseUrl: '', agentReleaseSha256: manifest.sha256 },
    requests: 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req, res) => {
    if (req.url !== path) return void res.writeHead(404).end();
    served.requests += 1;
    res.writeHead(200, { 'content-type': 'text/javascript', 'content-length': String(code.byteLength) }).end(code);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  served.pin.agentReleaseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return served;
}
