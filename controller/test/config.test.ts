import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, requireSharedMasterKey } from '../src/config.ts';

describe('parseConfig', () => {
  it('has defaults that need no setup', () => {
    // The lifecycle's own defaults are checked in test/lifecycle/config.test.ts.
    expect(parseConfig([], {})).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      databaseUrl: undefined,
      dataDir: './.toolbelt/data',
      logLevel: 'info',
      logFormat: 'auto',
      adminToken: undefined,
      defaultRegion: 'nyc3',
      defaultSize: 's-1vcpu-1gb',
      secretsBackend: 'local',
      masterKey: undefined,
      masterKeyFile: undefined,
      leaseTtlMs: 10_000,
      leaseRenewMs: 3_000,
      resyncIntervalMs: 300_000,
      reconcileTimeoutMs: 60_000,
      reconcileWorkers: 4,
      reconcileRate: 5_000,
      replicaId: undefined,
      localDroplets: true,
      localDockerSocket: undefined,
      seedCatalog: true,
    });
  });

  it('reads the loop settings, deriving the renewal from the TTL unless given', () => {
    expect(parseConfig([], { TOOLBELT_LEASE_TTL_MS: '20000', TOOLBELT_LEASE_RENEW_MS: '' })).toMatchObject({
      leaseTtlMs: 20_000,
      leaseRenewMs: 6_000,
    });
    const config = parseConfig(['--lease-renew-ms', '2000', '--reconcile-workers', '8', '--replica-id', 'r1'], {
      TOOLBELT_RESYNC_INTERVAL_MS: '60000',
      TOOLBELT_RECONCILE_RATE: '100',
    });
    expect(config).toMatchObject({ leaseRenewMs: 2_000, reconcileWorkers: 8, replicaId: 'r1', resyncIntervalMs: 60_000, reconcileRate: 100 });
  });

  it('refuses a renewal too slow for the TTL, naming both settings', () => {
    expect(() => parseConfig([], { TOOLBELT_LEASE_TTL_MS: '4000', TOOLBELT_LEASE_RENEW_MS: '3000' })).toThrow(
      /TOOLBELT_LEASE_RENEW_MS \(--lease-renew-ms\) = "3000": must be at most half of TOOLBELT_LEASE_TTL_MS \(4000\)/,
    );
    expect(() => parseConfig([], { TOOLBELT_RECONCILE_WORKERS: '0' })).toThrow(/TOOLBELT_RECONCILE_WORKERS/);
  });

  it('reads the deployment settings and refuses bad ones, naming the setting and the value', () => {
    expect(parseConfig([], {})).toMatchObject({ dbSchema: 'toolbelt', tlsCertFile: undefined, tlsKeyFile: undefined, agentCaFile: undefined });
    expect(
      parseConfig(['--db-schema', 'tb_prod'], { TOOLBELT_TLS_CERT_FILE: '/etc/t/cert.pem', TOOLBELT_TLS_KEY_FILE: '/etc/t/key.pem', TOOLBELT_AGENT_CA_FILE: '/etc/t/ca.pem' }),
    ).toMatchObject({ dbSchema: 'tb_prod', tlsCertFile: '/etc/t/cert.pem', tlsKeyFile: '/etc/t/key.pem', agentCaFile: '/etc/t/ca.pem' });
    for (const bad of ['Toolbelt', 'pg_toolbelt', 'tool-belt', 'a;drop', 'information_schema']) {
      expect(() => parseConfig([], { TOOLBELT_DB_SCHEMA: bad })).toThrow(`TOOLBELT_DB_SCHEMA (--db-schema) = ${JSON.stringify(bad)}`);
    }
    expect(() => parseConfig([], { TOOLBELT_TLS_CERT_FILE: '/etc/t/cert.pem' })).toThrow(
      /TOOLBELT_TLS_KEY_FILE \(--tls-key-file\) = undefined: built-in TLS needs both/,
    );
    expect(() => parseConfig(['--tls-key-file', '/k.pem'], {})).toThrow(/TOOLBELT_TLS_CERT_FILE \(--tls-cert-file\)/);
  });

  it('reads the environment and lets flags win', () => {
    const config = parseConfig(['--port', '9001', '--data-dir', '/tmp/x'], {
      PORT: '7000',
      TOOLBELT_DATA_DIR: '/tmp/y',
      DATABASE_URL: 'postgres://u@h/db',
    });
    expect(config).toMatchObject({ port: 9001, dataDir: '/tmp/x', databaseUrl: 'postgres://u@h/db' });
  });

  it('treats an empty DATABASE_URL as unset', () => {
    expect(parseConfig([], { DATABASE_URL: '' }).databaseUrl).toBeUndefined();
  });

  it('refuses Postgres with local secrets and no master key, naming the settings that give one', () => {
    const postgres = { DATABASE_URL: 'postgres://u@h/db' };
    const refused = () => requireSharedMasterKey(parseConfig([], postgres));
    expect(refused).toThrow(ConfigError);
    expect(refused).toThrow(/DATABASE_URL is set but no secrets master key is.*TOOLBELT_MASTER_KEY \(--master-key\) or TOOLBELT_MASTER_KEY_FILE \(--master-key-file\)/);
    // A key from either setting, Vault, or PGlite (which keeps a key of its own) is fine.
    const key = Buffer.alloc(32, 7).toString('base64');
    for (const env of [
      { ...postgres, TOOLBELT_MASTER_KEY: key },
      { ...postgres, TOOLBELT_MASTER_KEY_FILE: '/run/secrets/toolbelt-master-key' },
      { ...postgres, TOOLBELT_SECRETS_BACKEND: 'vault' },
      {},
      { DATABASE_URL: '' },
    ]) {
      expect(() => requireSharedMasterKey(parseConfig([], env)), JSON.stringify(env)).not.toThrow();
    }
    expect(() => requireSharedMasterKey(parseConfig(['--master-key', key], postgres))).not.toThrow();
  });

  it('names the setting, its sources and the bad value', () => {
    expect(() => parseConfig([], { PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => parseConfig([], { PORT: 'eighty' })).toThrow(/PORT \(--port\) = "eighty"/);
    expect(() => parseConfig(['--log-level', 'loud'], {})).toThrow(/LOG_LEVEL \(--log-level\)/);
  });

  it('never echoes a bad admin token', () => {
    expect(() => parseConfig([], { TOOLBELT_ADMIN_TOKEN: 'short-secret' })).toThrow(/TOOLBELT_ADMIN_TOKEN \(--admin-token\) = \[redacted\]/);
    expect(() => parseConfig([], { TOOLBELT_ADMIN_TOKEN: 'short-secret' })).not.toThrow(/short-secret/);
  });

  it('refuses unknown flags with the list of known ones', () => {
    expect(() => parseConfig(['--prot', '1'], {})).toThrow(ConfigError);
    try {
      parseConfig(['--prot', '1'], {});
    } catch (error) {
      expect((error as ConfigError).hint).toContain('--port');
    }
  });
});
