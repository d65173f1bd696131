import { statSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError, type Loaded, loadConfig } from "../config/load.js";
import type { Config } from "../config/types.js";
import { openStore, type Store, StoreError } from "../store/open.js";
import { CliError, EXIT } from "./io.js";

/** Options every command that reads the config accepts. */
export interface ConfigArgs {
  config?: string | undefined;
  env?: string | undefined;
}

export const configOptions = {
  config: {
    type: "string",
    describe: "config file (default: $OLLAMA_PROXY_CONFIG or config/ollama_proxy.yml)",
  },
  env: { type: "string", describe: "config section (default: $OLLAMA_PROXY_ENV or development)" },
} as const;

/** Loads the config or fails with every problem listed, one `path: message` per line. */
export function loadOrFail(args: ConfigArgs): Loaded {
  try {
    return loadConfig({ file: args.config, env: args.env });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.config);
    throw err;
  }
}

/**
 * For commands that create files (users, serve), called before they create any: when root
 * runs them against a database folder that belongs to another user (the .deb's
 * /var/lib/ollama-proxy belongs to the service user `ollama`), the process becomes that user
 * for good. The database, its -wal and -shm, and the log files are then the service's own,
 * where root would leave files mode 0600 that the service cannot open.
 * A missing folder is left for openStore to report; anyone but root is left as they are.
 */
export function actAsDataOwner(config: Config): void {
  if (process.getuid?.() !== 0) return;
  const dir = dirname(config.database);
  let owner: { uid: number; gid: number };
  try {
    owner = statSync(dir);
  } catch {
    return;
  }
  if (owner.uid === 0) return;
  // Groups first: once the uid is not root, the groups can no longer be changed.
  process.setgroups?.([owner.gid]);
  process.setgid?.(owner.gid);
  process.setuid?.(owner.uid);
}

/** Opens the configured database or fails with a message that names the file. */
export function openOrFail(path: string, opts: { readonly?: boolean } = {}): Store {
  try {
    return openStore(path, opts);
  } catch (err) {
    if (err instanceof StoreError) throw new CliError(err.message, EXIT.failure);
    throw err;
  }
}
