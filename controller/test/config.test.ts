import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.ts';

describe('parseConfig', () => {
  it('has defaults that need no setup', () => {
    expect(parseConfig([], {})).toEqual({
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
    });
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
