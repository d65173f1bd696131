import assert from "node:assert/strict";
import { test } from "node:test";
import { openStore } from "../lib/store/open.js";
import { cliSetup, runCli } from "./helpers.js";

// Mistakes get one clear line on stderr and a non-zero exit: 1 for a refused operation,
// 64 for a command line that does not parse. Nothing is half-done.

test("a duplicate name is refused and the first user keeps its token", async (t) => {
  const { args, database } = cliSetup(t);
  assert.equal((await runCli(["users", "create", "alice", ...args])).code, 0);
  const store = openStore(database);
  t.after(() => store.close());
  const before = store.users.credentials()[0]!.tokenHash;

  const r = await runCli(["users", "create", "alice", "--admin", ...args]);
  assert.equal(r.code, 1);
  assert.equal(r.out, "");
  assert.equal(r.err, 'ollama-proxy: a user named "alice" already exists');
  assert.ok(store.users.credentials()[0]!.tokenHash.equals(before));
  assert.equal(store.users.get("alice").role, "user");
});

test("invalid names are refused with the rule", async (t) => {
  const { args, database } = cliSetup(t);
  for (const name of [
    "",
    "_alice",
    ".hidden",
    "a b",
    "a/b",
    "x".repeat(65),
    "ünïcode",
    "tab\tname",
    "semi;colon",
  ]) {
    const r = await runCli(["users", "create", name, ...args]);
    assert.equal(r.code, 1, JSON.stringify(name));
    assert.match(
      r.err,
      /^ollama-proxy: invalid user name ".*": use 1-64 letters, digits, '\.', '_', '@' or '-', starting with a letter or digit$/s,
    );
    assert.equal(r.out, "");
  }
  // A leading '-' never gets this far: it reads as an option.
  assert.equal((await runCli(["users", "create", "-alice", ...args])).code, 64);
  for (const name of ["a", "x".repeat(64), "alice.smith@example.org", "svc_build-01"]) {
    assert.equal((await runCli(["users", "create", name, ...args])).code, 0, name);
  }
  const store = openStore(database);
  t.after(() => store.close());
  assert.equal(store.users.list().length, 4);
});

test("an unknown user is named, for every command that takes one", async (t) => {
  const { args } = cliSetup(t);
  for (const cmd of ["deactivate", "activate", "delete", "rotate"]) {
    const r = await runCli(["users", cmd, "ghost", ...args]);
    assert.equal(r.code, 1, cmd);
    assert.equal(r.err, 'ollama-proxy: no user named "ghost"', cmd);
    assert.equal(r.out, "", cmd);
  }
});

test("a command line that does not parse is a usage error", async (t) => {
  const { args } = cliSetup(t);
  // A bare `users` is no error: it prints its help (cli-bare-command-prints-help).
  for (const argv of [
    ["users", "create"],
    ["users", "rotate"],
    ["users", "frobnicate", "alice"],
    ["users", "create", "alice", "--role", "admin"],
    ["users", "list", "extra"],
  ]) {
    const r = await runCli([...argv, ...args]);
    assert.equal(r.code, 64, `${argv.join(" ")}: ${r.err}`);
    assert.match(r.err, /Run ollama-proxy --help for usage\.$/, argv.join(" "));
  }
});
