/**
 * The per-droplet credential, kept in the state dir with mode 0600 and replaced atomically
 * (write to a temporary file, fsync, rename) so a crash never leaves half a credential.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface StoredCredential {
  credentialId: string;
  credential: string;
  environmentId?: string;
  storedAt: string;
}

export const credentialPath = (stateDir: string): string => join(stateDir, 'credential.json');

/** The stored credential, or undefined when the agent has not enrolled yet. */
export async function readCredential(stateDir: string): Promise<StoredCredential | undefined> {
  try {
    const value = JSON.parse(await readFile(credentialPath(stateDir), 'utf8')) as Partial<StoredCredential>;
    if (typeof value.credential !== 'string' || typeof value.credentialId !== 'string') return undefined;
    return value as StoredCredential;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Stores a credential (0600), replacing the previous one atomically. */
export async function writeCredential(stateDir: string, credential: StoredCredential): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const target = credentialPath(stateDir);
  const temporary = `${target}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify(credential));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
