import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { stringify } from "yaml";
import { runCli, tempDir } from "./helpers.js";

// A log folder or a database that cannot be used stops `serve` with one line naming it and
// exit 1 — no stack trace, nothing half-started.

test("a log folder that cannot be made, a database that cannot be opened: one line each, exit 1", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "config.yml");
  const notAFolder = join(dir, "log-is-a-file");
  writeFileSync(notAFolder, "");
  writeFileSync(
    file,
    stringify({ test: { servers: {}, database: join(dir, "proxy.sqlite3"), logging: { dir: notAFolder } } }),
  );
  const log = await runCli(["serve", "--config", file, "--env", "test", "--port", "0"]);
  assert.equal(log.code, 1);
  assert.equal(log.err, `ollama-proxy: cannot write to the log folder ${notAFolder}: EEXIST`);

  const folderAsDatabase = join(dir, "db-is-a-folder");
  mkdirSync(folderAsDatabase);
  writeFileSync(
    file,
    stringify({ test: { servers: {}, database: folderAsDatabase, logging: { dir: null } } }),
  );
  const db = await runCli(["serve", "--config", file, "--env", "test", "--port", "0"]);
  assert.equal(db.code, 1);
  assert.match(
    db.err,
    new RegExp(`^ollama-proxy: cannot open database ${folderAsDatabase}: .*\\(EISDIR\\)$`),
  );
  assert.doesNotMatch(db.err, /\n/, "one line");
});
