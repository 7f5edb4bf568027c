/**
 * Writes deploy/cloud-init/user-data.example.yaml and deploy/systemd/toolbelt-agent.service
 * from the code that renders them (run from the repository root).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { agentUnit, renderAgentUserData } from '@toolbelt/schema/cloud-init';

/** The example values of the committed user_data. */
export const EXAMPLE_BOOTSTRAP = {
  controllerUrl: 'wss://controller.example.com/agent/v1',
  enrollmentToken: 'EXAMPLE-ENROLLMENT-TOKEN-0000000000',
  agentVersion: '0.1.0',
  agentReleaseUrl: 'https://controller.example.com/agent/v1/releases/0.1.0/agent.mjs',
  agentReleaseSha256: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
};

export const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/', import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(`${DEPLOY_DIR}cloud-init/user-data.example.yaml`, renderAgentUserData(EXAMPLE_BOOTSTRAP));
  writeFileSync(`${DEPLOY_DIR}systemd/toolbelt-agent.service`, agentUnit());
}
