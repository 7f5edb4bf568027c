/**
 * The seam for secret values. The API takes values in and never gives them out; where and
 * how they are kept (AES-256-GCM envelope encryption in Postgres, or Supabase Vault) is the
 * store's business. The controller passes a store in the API's options.
 */

/** What may be shown about a secret: never its value. */
export interface SecretInfo {
  name: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface SecretStore {
  /** Stores (or replaces) a value; returns its metadata. */
  put(agentId: string, name: string, value: string): Promise<SecretInfo>;
  /** Every secret of the agent, without values, in name order. */
  list(agentId: string): Promise<SecretInfo[]>;
  /** Deletes a secret; false when there was none. */
  delete(agentId: string, name: string): Promise<boolean>;
}
