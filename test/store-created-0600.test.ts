import assert from "node:assert/strict";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "../lib/cli/main.js";
import { MIGRATIONS } from "../lib/store/migrations.js";
import { openStore, StoreError } from "../lib/store/open.js";
import { tempDir } from "./helpers.js";

// The database holds token hashes: it is created on first use, readable by its owner only,
// and so are SQLite's -wal and -shm files beside it.

const mode = (path: string) => statSync(path).mode & 0o777;
const LATEST = MIGRATIONS.at(-1)!.version;

test("first use creates and migrates the file, mode 0600, in WAL mode", (t) => {
  const file = join(tempDir(t), "proxy.sqlite3");
  const previous = process.umask(0o000); // even with a permissive umask
  let store: ReturnType<typeof openStore>;
  try {
    store = openStore(file);
  } finally {
    process.umask(previous);
  }
  t.after(() => store.close());

  assert.equal(mode(file), 0o600);
  assert.equal(store.db.pragma("user_version", { simple: true }), LATEST);
  assert.equal(store.db.pragma("journal_mode", { simple: true }), "wal");
  assert.deepEqual(store.users.list(), []);

  store.users.create("alice");
  for (const side of ["-wal", "-shm"]) {
    assert.ok(existsSync(file + side), `${side} exists once written`);
    assert.equal(mode(file + side), 0o600, `${side} mode`);
  }
});

test("reopening is idempotent: same schema, same rows, no migration run twice", (t) => {
  const file = join(tempDir(t), "proxy.sqlite3");
  const first = openStore(file);
  const { token } = first.users.create("alice", { role: "admin" });
  first.close();

  for (let i = 0; i < 3; i++) {
    const again = openStore(file);
    assert.equal(again.db.pragma("user_version", { simple: true }), LATEST);
    assert.deepEqual(
      again.users.list().map((u) => [u.name, u.role, u.active]),
      [["alice", "admin", true]],
    );
    assert.equal(again.users.credentials().length, 1);
    assert.ok(token.startsWith(again.users.get("alice").tokenPrefix));
    again.close();
  }
  assert.equal(mode(file), 0o600);

  // Two connections at once (the server and the CLI) both open cleanly.
  const a = openStore(file);
  const b = openStore(file);
  b.users.create("bob");
  assert.deepEqual(
    a.users.list().map((u) => u.name),
    ["alice", "bob"],
  );
  a.close();
  b.close();
});

test("a missing folder is an error naming the path, and nothing is created", (t) => {
  const dir = tempDir(t);
  const file = join(dir, "no", "such", "dir", "proxy.sqlite3");
  assert.throws(
    () => openStore(file),
    (e: unknown) =>
      e instanceof StoreError &&
      e.message.startsWith(`cannot open database ${file}: `) &&
      /ENOENT/.test(e.message),
  );
  assert.equal(existsSync(join(dir, "no")), false);
});

test("the CLI reports a missing database folder plainly, with a non-zero exit", async (t) => {
  const dir = tempDir(t);
  const config = join(dir, "c.yml");
  const db = join(dir, "missing", "proxy.sqlite3");
  writeFileSync(config, `test:\n  servers: {}\n  database: "${db}"\n`);
  const err: string[] = [];
  const code = await main(["users", "list", "--config", config, "--env", "test"], {
    out: () => {},
    err: (s) => err.push(s),
  });
  assert.equal(code, 1);
  assert.match(err.join("\n"), new RegExp(`^ollama-proxy: cannot open database ${db}: .*ENOENT`));
  assert.doesNotMatch(err.join("\n"), /\n\s+at /, "no stack trace");
});

test("a file that is not a SQLite database is refused with its path", (t) => {
  const file = join(tempDir(t), "proxy.sqlite3");
  writeFileSync(file, "this is not a database, just text that is long enough to have a header page");
  assert.throws(
    () => openStore(file),
    (e: unknown) => e instanceof StoreError && e.message.startsWith(`cannot open database ${file}: `),
  );
});
