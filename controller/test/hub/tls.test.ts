/**
 * Built-in TLS: a real droplet agent enrolls over wss:// against a controller whose
 * certificate comes from a private CA given to the agent (as user_data gives it), a command
 * goes round trip; an agent that trusts another CA is refused; new certificate files are
 * served without a restart.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { connect } from 'node:tls';
import { issueEnrollmentToken } from '@toolbelt/schema';
import { describeEachDatabase, describeIf } from '@toolbelt/schema/testing';
import { afterAll, expect, it } from 'vitest';
import { Router } from '../../src/http/router.ts';
import { HttpServer } from '../../src/http/server.ts';
import { readAgentCa } from '../../src/http/tls.ts';
import { createLogger } from '../../src/logger.ts';
import { agentAvailable, removeTempDirs, startAgentProcess } from './agent-process.ts';
import { commandOutcome } from '../support/commands.ts';
import { startTestHub } from '../support/hub.ts';
import { makeEnvironment, makeTool } from '../support/rows.ts';

const dir = mkdtempSync(join(tmpdir(), 'toolbelt-tls-'));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A CA named `name` (name.pem, name.key). */
function makeCa(name: string): string {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-subj', `/CN=${name}`);
  return readFileSync(join(dir, `${name}.pem`), 'utf8');
}

/** A certificate for 127.0.0.1 signed by `ca`, written as `out`.pem/.key (atomically, like a renewal). */
function issueServerCert(ca: string, out: string): void {
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'new.key', '-out', 'new.csr', '-subj', '/CN=127.0.0.1');
  openssl('x509', '-req', '-in', 'new.csr', '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', 'new.pem', '-extfile', 'san.ext');
  renameSync(join(dir, 'new.key'), join(dir, `${out}.key`));
  renameSync(join(dir, 'new.pem'), join(dir, `${out}.pem`));
}

let opensslAvailable = true;
try {
  openssl('version');
} catch {
  opensslAvailable = false;
}

const ca = opensslAvailable ? makeCa('ca') : '';
const otherCa = opensslAvailable ? makeCa('other-ca') : '';
if (opensslAvailable) issueServerCert('ca', 'server');
const tls = { certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };

/** The SHA-256 of the certificate the server at `port` presents. */
function presented(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(createHash('sha256').update(raw).digest('hex'));
    });
    socket.on('error', reject);
  });
}

afterAll(() => {
  removeTempDirs();
  rmSync(dir, { recursive: true, force: true });
});

describeIf(agentAvailable && opensslAvailable, 'needs the droplet agent in this checkout and openssl')('built-in TLS', () => {
  it('reads the agent CA file and refuses one that holds no certificate', () => {
    expect(readAgentCa(join(dir, 'ca.pem'))).toBe(`${ca.trim()}\n`);
    expect(() => readAgentCa(join(dir, 'ca.key'))).toThrow(/not a PEM CA certificate/);
  });

  describeEachDatabase('wss:// with a private CA', (t) => {
    it('a real agent enrolls over wss:// trusting the private CA, and a command goes round trip', async () => {
      const env = await makeEnvironment(t.db);
      const tool = await makeTool(t.db, env.id);
      const hub = await startTestHub(t.database, { tls });
      expect(hub.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/agent\/v1$/);
      const { token } = await issueEnrollmentToken(t.db, env.id);
      const agent = startAgentProcess(hub.url, token, undefined, { controllerCa: ca });
      await expect.poll(() => hub.hub.isConnected(env.id), { timeout: 60_000 }).toBe(true);
      const result = await commandOutcome(t.db, { environmentId: env.id, commandType: 'get_logs', toolInstanceId: tool.id, generation: 1, payload: { lines: 10 }, timeoutMs: 60_000 });
      expect(['done', 'failed']).toContain(result.status);
      expect(result.finished_at).toBeInstanceOf(Date);
      await agent.kill();
      await hub.stop();
    }, 120_000);

    it('an agent that trusts another CA is refused and never connects', async () => {
      const env = await makeEnvironment(t.db);
      const hub = await startTestHub(t.database, { tls });
      const { token } = await issueEnrollmentToken(t.db, env.id);
      const agent = startAgentProcess(hub.url, token, undefined, { controllerCa: otherCa });
      // Two failed dials, each a certificate error, and no session.
      await expect
        .poll(() => agent.log.filter((l) => /socket error/.test(l) && /certificate|self.signed|verify/i.test(l)).length, { timeout: 60_000 })
        .toBeGreaterThanOrEqual(2);
      expect(hub.hub.isConnected(env.id)).toBe(false);
      await agent.kill();
      await hub.stop();
    }, 120_000);
  });

  it('serves new certificate files without a restart; a broken pair keeps the old one', async () => {
    issueServerCert('ca', 'reload');
    const files = { certFile: join(dir, 'reload.pem'), keyFile: join(dir, 'reload.key'), pollMs: 100 };
    const lines: string[] = [];
    const logger = createLogger({ logLevel: 'info', logFormat: 'json' }, new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }));
    const http = new HttpServer({ host: '127.0.0.1', port: 0, router: new Router(), logger, tls: files });
    await http.start();
    try {
      const port = (http.server.address() as AddressInfo).port;
      const before = await presented(port);
      writeFileSync(files.keyFile, 'not a key');
      await expect.poll(() => lines.filter((l) => /change not applied/.test(l)).length, { timeout: 30_000 }).toBeGreaterThan(0);
      expect(await presented(port)).toBe(before);
      issueServerCert('other-ca', 'reload');
      const renewed = createHash('sha256').update(new X509Certificate(readFileSync(files.certFile)).raw).digest('hex');
      expect(renewed).not.toBe(before);
      await expect.poll(() => presented(port), { timeout: 30_000 }).toBe(renewed);
      expect(lines.some((l) => /TLS certificate reloaded/.test(l))).toBe(true);
    } finally {
      await http.stop();
    }
  }, 120_000);
});
