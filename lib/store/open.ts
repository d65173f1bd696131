import { closeSync, openSync } from "node:fs";
import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations.js";
import { type UserStore, userStore } from "./users.js";

/** An open database with its typed accessors; whoever opens it closes it. */
export interface Store {
  readonly db: Database.Database;
  readonly path: string;
  readonly users: UserStore;
  /** SQLite's `PRAGMA data_version`: changes when another connection commits. */
  dataVersion(): number;
  close(): void;
}

/** Why the database could not be opened, naming the file; the CLI prints it and exits non-zero. */
export class StoreError extends Error {
  constructor(path: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException).code;
    super(`cannot open database ${path}: ${(cause as Error).message}${code ? ` (${code})` : ""}`, { cause });
    this.name = "StoreError";
  }
}

/**
 * Opens (creating and migrating on first use) the SQLite file at `path`. The file is created
 * with mode 0600 before SQLite touches it; SQLite gives its -wal and -shm files the same mode.
 * The folder must exist: a missing folder is a configuration mistake, reported, not papered over.
 */
export function openStore(path: string, opts: { readonly?: boolean } = {}): Store {
  let db: Database.Database | undefined;
  try {
    if (!opts.readonly) closeSync(openSync(path, "a", 0o600));
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: true, timeout: 5000 });
    if (!opts.readonly) {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
      migrate(db);
    }
  } catch (err) {
    // Opened but unusable (not a database, a failed migration): do not leak the handle.
    db?.close();
    throw new StoreError(path, err);
  }
  const dataVersion = db.prepare("PRAGMA data_version").pluck();
  return {
    db,
    path,
    users: userStore(db),
    dataVersion: () => dataVersion.get() as number,
    close: () => db.close(),
  };
}

/** Applies pending migrations in one IMMEDIATE transaction, so a CLI and a server starting together never both migrate. */
function migrate(db: Database.Database): void {
  const version = () => db.pragma("user_version", { simple: true }) as number;
  if (MIGRATIONS.every((m) => m.version <= version())) return;
  db.transaction(() => {
    const current = version();
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
  }).immediate();
}
