import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigError, type Loaded, loadConfig } from "../config/load.js";
import { openStore, type Store, StoreError } from "../store/open.js";
import { CliError, EXIT } from "./io.js";

/** Options every command that reads the config accepts. */
export interface ConfigArgs {
  config?: string | undefined;
  env?: string | undefined;
}

/** Options of the commands that work on the database alone (users, usage). */
export interface DatabaseArgs extends ConfigArgs {
  database?: string | undefined;
}

export const configOptions = {
  config: {
    type: "string",
    describe: "config file (default: $OLLAMA_PROXY_CONFIG or config/ollama_proxy.yml)",
  },
  env: { type: "string", describe: "config section (default: $OLLAMA_PROXY_ENV or development)" },
} as const;

/** `--database`, for the commands that need nothing from the config but its database. */
export const databaseOption = {
  database: {
    type: "string",
    describe: "SQLite file to use instead of the config's `database`; needs no readable config",
  },
} as const;

/** `--json`, described the same way everywhere. */
export const jsonOption = {
  json: { type: "boolean", default: false, describe: "print JSON instead of a table (for scripts)" },
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
 * The database a command works on: `--database`, else the config's. A config that cannot be
 * used is reported with the way around it: revoking a leaked token must not wait for someone
 * to fix a typo in the YAML.
 */
export function databasePath(args: DatabaseArgs): string {
  if (args.database) return resolve(args.database);
  try {
    return loadConfig({ file: args.config, env: args.env }).config.database;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new CliError(
      `${err.message}\nTo work on the database without the config, pass --database PATH ` +
        "(the .deb's is /var/lib/ollama-proxy/ollama-proxy.sqlite3).",
      EXIT.config,
    );
  }
}

/**
 * For commands that may create files next to the database (users, serve, and the readers,
 * whose SQLite connection creates the -wal and -shm files of a database no server has
 * open), called before they open it: when root runs them against a database folder that
 * belongs to another user (the .deb's /var/lib/ollama-proxy belongs to the service user
 * `ollama`), the process becomes that user for good. The database, its -wal and -shm, and
 * the log files are then the service's own, where root would leave files mode 0600 that the
 * service cannot open. A missing folder is left for openStore to report; anyone but root is
 * left as they are.
 */
export function actAsDataOwner(database: string): void {
  if (process.getuid?.() !== 0) return;
  const dir = dirname(database);
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

/**
 * Whether the database file is there yet. A missing folder is no "not yet" but a mistake in
 * the config (`serve` would refuse it too), reported as openStore reports it.
 */
export function databaseExists(path: string): boolean {
  if (existsSync(path)) return true;
  const dir = dirname(path);
  if (!existsSync(dir))
    throw new CliError(`cannot open database ${path}: its folder ${dir} does not exist (ENOENT)`);
  return false;
}

/**
 * Opens a database for reading only, never creating it: null when there is no such file (a
 * read-only command run before the server ever started, or with `--env` of a section that
 * never ran, must not leave an empty database behind).
 */
export function openForReading(path: string): Store | null {
  if (!databaseExists(path)) return null;
  actAsDataOwner(path);
  return openOrFail(path, { readonly: true });
}
