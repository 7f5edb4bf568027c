/**
 * Builds the runtimes this droplet can use: `process` always (unless turned off), `docker`
 * when the Docker Engine API answers on the configured socket.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '@toolbelt/schema/clock';
import type { AgentConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { DockerRuntime } from './docker/runtime.ts';
import { ProcessRuntime } from './process/runtime.ts';
import type { RestartPolicy } from './process/supervisor.ts';
import type { Runtime, SecretFetcher } from './types.ts';

export interface CreateRuntimesOptions {
  config: AgentConfig;
  clock: Clock;
  log: Logger;
  fetchSecrets: SecretFetcher;
  onChange: (toolInstanceId: string) => void;
  restart?: Partial<RestartPolicy>;
}

export async function createRuntimes(options: CreateRuntimesOptions): Promise<Runtime[]> {
  const { config, clock, log, fetchSecrets, onChange } = options;
  const runtimes: Runtime[] = [];
  if (config.runtimes.includes('process')) {
    runtimes.push(
      new ProcessRuntime({
        stateDir: config.stateDir,
        clock,
        npm: { ...config.npm, ...(config.controllerCa ? { caFile: await writeControllerCa(config) } : {}) },
        fetchSecrets,
        onChange,
        log: (message) => log.info(message),
        logCapacity: config.logBufferLines,
        logFileMaxBytes: config.logFileMaxBytes,
        ...(options.restart ? { restart: options.restart } : {}),
      }),
    );
  }
  if (config.runtimes.includes('docker')) {
    const docker = new DockerRuntime({ socketPath: config.dockerSocket, scope: config.dockerScope, clock, onChange, log: (m) => log.info(m) });
    if (await docker.available()) runtimes.push(docker);
    else log.warn('no container engine answers; the docker runtime is off', { socket: config.dockerSocket });
  }
  return runtimes;
}

/**
 * The controller's private CA as a file in the state dir, for npm: tools' packages come from
 * the controller's package shelf over the same https:// that the agent's wss:// uses.
 */
async function writeControllerCa(config: AgentConfig): Promise<string> {
  const file = join(config.stateDir, 'controller-ca.pem');
  await writeFile(file, config.controllerCa!, { mode: 0o644 });
  return file;
}
