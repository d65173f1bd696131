import assert from "node:assert/strict";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { runCli, tempDir } from "./helpers.js";

// A command that only reads never leaves a file behind: `users list --env test` on a section
// that never ran must not create its database (an empty db/test.sqlite3 that a later
// `serve --env test` would take for real); `usage` likewise; `health`, `route`, `config
// check` open no database at all.

test("users list and usage on a section whose database does not exist create nothing", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "config.yml");
  // As in a checkout: db/ is there (db/.gitkeep), db/test.sqlite3 is not.
  mkdirSync(join(dir, "db"));
  const database = join(dir, "db", "test.sqlite3");
  writeFileSync(file, `test:\n  servers: {}\n  database: ${database}\n  logging: {dir: null}\n`);
  const before = readdirSync(dir, { recursive: true }).sort();

  const list = await runCli(["users", "list", "--config", file, "--env", "test"]);
  assert.equal(list.code, 0, list.err);
  assert.equal(list.out, "No users yet. Create one with: ollama-proxy users create NAME [--admin]");
  assert.equal(list.err, `(no database at ${database} yet: \`serve\` or \`users create\` creates it)`);
  const json = await runCli(["users", "list", "--json", "--config", file, "--env", "test"]);
  assert.deepEqual([json.code, json.out], [0, "[]"]);

  const usage = await runCli(["usage", "--config", file, "--env", "test"]);
  assert.equal(usage.code, 1);
  assert.equal(
    usage.err,
    `ollama-proxy: no database at ${database}: nothing has been logged there yet (ollama-proxy serve)`,
  );

  const check = await runCli(["config", "check", "--offline", "--config", file, "--env", "test"]);
  assert.equal(check.code, 78, "no server: an error, but no file either");

  assert.deepEqual(readdirSync(dir, { recursive: true }).sort(), before);
});

test("a --database that does not exist is an error for users list, not an empty list", async (t) => {
  const missing = join(tempDir(t), "typo.sqlite3");
  const r = await runCli(["users", "list", "--database", missing]);
  assert.deepEqual([r.code, r.err], [1, `ollama-proxy: no database at ${missing}`]);
});
