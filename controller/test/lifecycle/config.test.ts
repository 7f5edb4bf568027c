/** The lifecycle's settings: defaults that need no setup, parsing, and refusals that say why. */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.ts';
import { toolHostIp } from '../../src/lifecycle-config.ts';

describe('lifecycle settings', () => {
  it('defaults to the embedded simulator and an operator-friendly pace', () => {
    expect(parseConfig([], {})).toMatchObject({
      digitaloceanToken: undefined,
      digitaloceanApiUrl: 'https://api.digitalocean.com/v2',
      fleetTag: 'toolbelt',
      simulatorBootMs: { minMs: 3000, maxMs: 3000 },
      simulatorPort: 0,
      sweepFastMs: 5_000,
      sweepSteadyMs: 60_000,
      createBatchWindowMs: 150,
      agentRequired: true,
      agentHeartbeatMs: 15_000,
      agentHelloGraceMs: 600_000,
      agentSilenceGraceMs: 90_000,
      replaceAfterMs: 600_000,
      bootTimeoutMs: 900_000,
      quotaRetryMs: 900_000,
      bootRetries: 2,
      bootRetryDelayMs: 300_000,
      orphanGraceMs: 600_000,
      orphanDryRun: false,
      firewall: true,
      adminCidrs: [],
      toolSourceCidrs: [],
      agentUrl: undefined,
      agentVersion: undefined,
    });
  });

  it('waits for the agent unless no agent can dial in (embedded simulator without local droplets)', () => {
    expect(parseConfig([], {}).agentRequired).toBe(true);
    expect(parseConfig([], { TOOLBELT_LOCAL_DROPLETS: 'false' }).agentRequired).toBe(false);
    expect(parseConfig([], { TOOLBELT_LOCAL_DROPLETS: 'false', TOOLBELT_AGENT_REQUIRED: 'true' }).agentRequired).toBe(true);
    const real = { DIGITALOCEAN_TOKEN: 'dop_v1_x', TOOLBELT_AGENT_URL: 'wss://toolbelt.example.com/agent/v1' };
    expect(parseConfig([], { ...real, TOOLBELT_LOCAL_DROPLETS: 'false' }).agentRequired).toBe(true);
    expect(parseConfig([], { ...real, TOOLBELT_AGENT_REQUIRED: 'no' }).agentRequired).toBe(false);
    expect(() => parseConfig([], { TOOLBELT_AGENT_REQUIRED: 'maybe' })).toThrow(/TOOLBELT_AGENT_REQUIRED/);
  });

  it('lets tools listen beyond loopback only when the fleet firewall opens their ports to some sources', () => {
    expect(toolHostIp(parseConfig([], {}))).toBe('127.0.0.1');
    expect(toolHostIp(parseConfig([], { TOOLBELT_TOOL_SOURCE_CIDRS: '203.0.113.0/24' }))).toBe('0.0.0.0');
    expect(toolHostIp(parseConfig([], { TOOLBELT_TOOL_SOURCE_CIDRS: '203.0.113.0/24', TOOLBELT_FIREWALL: 'false' }))).toBe('127.0.0.1');
  });

  it('reads lists, switches and ranges from the environment and flags', () => {
    const config = parseConfig(['--orphan-dry-run', 'yes', '--simulator-boot-ms', '2000-4000'], {
      TOOLBELT_ADMIN_CIDRS: '198.51.100.0/24, 203.0.113.5',
      TOOLBELT_AGENT_REQUIRED: 'true',
      DIGITALOCEAN_API_URL: 'http://127.0.0.1:9090/v2/',
    });
    expect(config).toMatchObject({
      orphanDryRun: true,
      simulatorBootMs: { minMs: 2000, maxMs: 4000 },
      adminCidrs: ['198.51.100.0/24', '203.0.113.5'],
      agentRequired: true,
      digitaloceanApiUrl: 'http://127.0.0.1:9090/v2',
    });
  });

  it('refuses what cannot work, naming the setting, and never echoes the token', () => {
    const attempt = (env: Record<string, string>) => {
      try {
        parseConfig([], env);
        return '';
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
    };
    expect(attempt({ TOOLBELT_FLEET_TAG: 'has space' })).toMatch(/TOOLBELT_FLEET_TAG/);
    expect(attempt({ TOOLBELT_SWEEP_FAST_MS: '9000', TOOLBELT_SWEEP_STEADY_MS: '1000' })).toMatch(/TOOLBELT_SWEEP_STEADY_MS/);
    expect(attempt({ DIGITALOCEAN_API_URL: 'http://127.0.0.1:9090' })).toMatch(/DIGITALOCEAN_API_URL.*\/v2/);
    expect(attempt({ TOOLBELT_AGENT_URL: 'ws://toolbelt.example.com/agent/v1' })).toMatch(/TOOLBELT_AGENT_URL.*wss/);
    // The host is parsed: a name that only starts like loopback is not loopback.
    for (const url of ['ws://localhost.evil.com/agent/v1', 'ws://127.0.0.1.evil.com/agent/v1', 'ws://127.evil.com/agent/v1', 'ws://localhost@evil.com/agent/v1']) {
      expect(attempt({ TOOLBELT_AGENT_URL: url }), url).toMatch(/TOOLBELT_AGENT_URL.*wss/);
    }
    for (const url of ['ws://localhost:8080/agent/v1', 'ws://127.0.0.1:8080/agent/v1', 'ws://[::1]:8080/agent/v1', 'wss://toolbelt.example.com/agent/v1']) {
      expect(attempt({ TOOLBELT_AGENT_URL: url }), url).toBe('');
    }
    expect(attempt({ TOOLBELT_AGENT_HEARTBEAT_MS: '60000' })).toMatch(/TOOLBELT_AGENT_SILENCE_GRACE_MS.*at least 120000 ms with TOOLBELT_AGENT_HEARTBEAT_MS 60000/);
    // A one-second interval leaves no room for one late beat within a two-second grace.
    expect(attempt({ TOOLBELT_AGENT_HEARTBEAT_MS: '1000', TOOLBELT_AGENT_SILENCE_GRACE_MS: '2000' })).toMatch(/TOOLBELT_AGENT_SILENCE_GRACE_MS.*at least 3000 ms/);
    expect(attempt({ TOOLBELT_AGENT_HEARTBEAT_MS: '500' })).toMatch(/TOOLBELT_AGENT_HEARTBEAT_MS/);
    expect(attempt({ TOOLBELT_AGENT_HEARTBEAT_MS: '1000', TOOLBELT_AGENT_SILENCE_GRACE_MS: '3000' })).toBe('');
    expect(attempt({ TOOLBELT_BOOT_RETRIES: '-1' })).toMatch(/TOOLBELT_BOOT_RETRIES/);
    expect(attempt({ TOOLBELT_BOOT_RETRIES: '1.5' })).toMatch(/TOOLBELT_BOOT_RETRIES/);
    expect(parseConfig([], { TOOLBELT_BOOT_RETRIES: '0' }).bootRetries).toBe(0);
    expect(attempt({ TOOLBELT_SSH_KEYS: '123,not-a-key' })).toMatch(/TOOLBELT_SSH_KEYS.*SSH key id or an MD5 fingerprint/);
    const keys = parseConfig([], { TOOLBELT_SSH_KEYS: ' 512190, 3B:16:BF:E4:8B:00:8B:B8:59:8C:A9:D3:F0:19:45:FA ' }).sshKeys;
    expect(keys).toEqual([512190, '3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa']);
    expect(parseConfig([], {}).sshKeys).toEqual([]);
    const message = attempt({ DIGITALOCEAN_TOKEN: 'dop_v1_secret_value_1234' });
    expect(message).toMatch(/TOOLBELT_AGENT_URL.*required with DIGITALOCEAN_TOKEN/);
    expect(message).not.toContain('dop_v1_secret_value_1234');
  });
});
