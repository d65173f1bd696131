import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { openStore } from "../lib/store/open.js";
import { logRow, seedRequestLog } from "./fixtures/request-log-rows.js";
import { runCli, tempDir } from "./helpers.js";

// Revoking a leaked token must not wait for someone to fix a YAML typo: `users …` and `usage`
// take --database PATH and then need no readable config; with a broken config and no
// --database they print the config's problems and that way out.

test("users and usage work on --database with no config file at all", async (t) => {
  const dir = tempDir(t);
  const database = join(dir, "proxy.sqlite3");
  const noConfig = ["--config", join(dir, "missing.yml"), "--database", database];
  const created = await runCli(["users", "create", "alice", "--json", ...noConfig]);
  assert.equal(created.code, 0, created.err);
  const token = JSON.parse(created.out).token as string;
  assert.match(token, /^olp_/);

  const off = await runCli(["users", "deactivate", "alice", ...noConfig]);
  assert.deepEqual([off.code, off.out], [0, "Deactivated alice."]);
  const store = openStore(database);
  t.after(() => store.close());
  assert.equal(store.users.get("alice").active, false);

  const list = await runCli(["users", "list", "--json", ...noConfig]);
  assert.equal(list.code, 0, list.err);
  assert.deepEqual(
    JSON.parse(list.out).map((u: { name: string; state: string }) => [u.name, u.state]),
    [["alice", "deactivated"]],
  );

  seedRequestLog(database, [logRow({ ts: Date.now() - 1000 })]);
  const usage = await runCli(["usage", "--json", ...noConfig]);
  assert.equal(usage.code, 0, usage.err);
  assert.equal(JSON.parse(usage.out).totals.requests, 1);
});

test("a broken config without --database: its problems, then the hint, exit 78", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "config.yml");
  writeFileSync(file, "production:\n  proxy_port: eleven\n  database: /nowhere/x.sqlite3\n");
  for (const argv of [
    ["users", "deactivate", "alice"],
    ["users", "list"],
    ["usage", "--since", "1d"],
  ]) {
    const r = await runCli([...argv, "--config", file, "--env", "production"]);
    assert.equal(r.code, 78, argv.join(" "));
    assert.equal(r.out, "");
    const lines = r.err.split("\n");
    assert.equal(lines[0], `ollama-proxy: invalid configuration ${file}:`);
    assert.equal(lines[1], "  production.proxy_port: must be integer");
    assert.equal(
      lines[2],
      "To work on the database without the config, pass --database PATH (the .deb's is /var/lib/ollama-proxy/ollama-proxy.sqlite3).",
    );
  }
});

test("--database wins over the config's database", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "config.yml");
  writeFileSync(file, `test:\n  database: ${join(dir, "configured.sqlite3")}\n`);
  const other = join(dir, "other.sqlite3");
  const r = await runCli(["users", "create", "bob", "--config", file, "--env", "test", "--database", other]);
  assert.equal(r.code, 0, r.err);
  const store = openStore(other);
  t.after(() => store.close());
  assert.equal(store.users.get("bob").name, "bob");
});
