import assert from "node:assert/strict";
import { test } from "node:test";
import { openStore } from "../lib/store/open.js";
import { hashToken } from "../lib/store/users.js";
import { cliSetup, runCli } from "./helpers.js";

// `users create` is the only moment a token exists in clear: it is printed once, and what
// is stored is its hash.

const TOKEN = /olp_[A-Za-z0-9_-]{43}/g;

function storedHash(database: string, name: string): Buffer | undefined {
  const store = openStore(database);
  try {
    return store.users.credentials().find((c) => c.user.name === name)?.tokenHash;
  } finally {
    store.close();
  }
}

test("human output: one token, once, and the database holds its hash", async (t) => {
  const { args, database } = cliSetup(t);
  const r = await runCli(["users", "create", "alice", ...args]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, "");
  const tokens = r.out.match(TOKEN) ?? [];
  assert.equal(tokens.length, 1, r.out);
  const token = tokens[0]!;
  assert.match(
    r.out,
    /^Created user alice\.\nAPI token \(shown once; store it now, it cannot be recovered\):\nolp_/,
  );
  assert.ok(storedHash(database, "alice")?.equals(hashToken(token)));

  const admin = await runCli(["users", "create", "root", "--admin", ...args]);
  assert.equal(admin.code, 0, admin.err);
  assert.match(admin.out, /^Created admin root\./);
  const store = openStore(database);
  t.after(() => store.close());
  assert.equal(store.users.get("root").role, "admin");
  assert.equal(store.users.get("alice").role, "user");
  assert.equal(store.users.get("alice").expiresAt, null);
});

test("--json: one object with the token and the user, nothing else printed", async (t) => {
  const { args, database } = cliSetup(t);
  const r = await runCli(["users", "create", "bot", "--json", ...args]);
  assert.equal(r.code, 0, r.err);
  const printed = JSON.parse(r.out) as Record<string, unknown>;
  assert.deepEqual(Object.keys(printed).sort(), [
    "active",
    "created_at",
    "expired",
    "expires_at",
    "last_used_at",
    "name",
    "policy",
    "role",
    "state",
    "token",
    "token_prefix",
  ]);
  const token = printed.token as string;
  assert.match(token, /^olp_[A-Za-z0-9_-]{43}$/);
  assert.equal((r.out.match(TOKEN) ?? []).length, 1);
  assert.equal(printed.name, "bot");
  assert.equal(printed.role, "user");
  assert.equal(printed.active, true);
  assert.equal(printed.state, "active");
  assert.equal(printed.expired, false);
  assert.equal(printed.token_prefix, token.slice(0, 12));
  assert.equal(printed.expires_at, null);
  assert.ok(Math.abs(Date.parse(printed.created_at as string) - Date.now()) < 60_000);
  assert.ok(storedHash(database, "bot")?.equals(hashToken(token)));
});

test("--expires-in 30d sets the expiry thirty days out", async (t) => {
  const { args, database } = cliSetup(t);
  const before = Date.now();
  const r = await runCli(["users", "create", "temp", "--expires-in", "30d", "--json", ...args]);
  assert.equal(r.code, 0, r.err);
  const expires = Date.parse((JSON.parse(r.out) as { expires_at: string }).expires_at);
  const month = 30 * 86_400_000;
  assert.ok(expires >= before + month && expires <= Date.now() + month, new Date(expires).toISOString());

  const store = openStore(database);
  t.after(() => store.close());
  assert.equal(store.users.get("temp").expiresAt, expires);

  const human = await runCli(["users", "create", "short", "--expires-in", "12h", ...args]);
  assert.equal(human.code, 0, human.err);
  assert.match(human.out, /^Created user short \(expires \d{4}-\d\d-\d\d \d\d:\d\d UTC\)\./);
});

test("a bad duration is a usage error, and no user (nor database) is created", async (t) => {
  const { args, database } = cliSetup(t);
  for (const bad of ["soon", "30", "-5d", "0d", "30days", "1y"]) {
    const r = await runCli(["users", "create", "temp", `--expires-in=${bad}`, ...args]);
    assert.equal(r.code, 64, `${bad}: ${r.err}`);
    // A negative lifetime is a duration, but in the past: its own message (cli-negative-durations-are-explained).
    const why = bad === "-5d" ? "is in the past; give the token's lifetime from now," : "is not a duration";
    assert.match(r.err, new RegExp(`--expires-in: "${bad}" ${why} like 90m, 24h, 30d or 2w`));
    assert.equal(r.out, "");
  }
  const { existsSync } = await import("node:fs");
  assert.equal(existsSync(database), false, "a usage error touches nothing");
});
