import assert from "node:assert/strict";
import { test } from "node:test";
import { openStore } from "../lib/store/open.js";
import { hashToken } from "../lib/store/users.js";
import { cliSetup, runCli } from "./helpers.js";

// deactivate, activate, rotate and delete change what the token map is built from
// (`credentials()`): that is what the running server reloads.

async function ok(argv: string[]): Promise<string> {
  const r = await runCli(argv);
  assert.equal(r.code, 0, `${argv.join(" ")}: ${r.err}`);
  assert.equal(r.err, "");
  return r.out;
}

test("deactivate, activate, rotate and delete", async (t) => {
  const { args, database } = cliSetup(t);
  const first = JSON.parse(
    await ok(["users", "create", "alice", "--json", "--expires-in", "30d", ...args]),
  ) as {
    token: string;
    expires_at: string;
  };
  const store = openStore(database);
  t.after(() => store.close());
  const hashes = () => store.users.credentials().map((c) => c.tokenHash.toString("hex"));

  assert.equal(await ok(["users", "deactivate", "alice", ...args]), "Deactivated alice.");
  assert.equal(store.users.get("alice").active, false);
  assert.deepEqual(hashes(), [], "a deactivated user has no credential");

  assert.equal(await ok(["users", "activate", "alice", ...args]), "Activated alice.");
  assert.equal(store.users.get("alice").active, true);
  assert.deepEqual(hashes(), [hashToken(first.token).toString("hex")]);

  const rotated = await ok(["users", "rotate", "alice", ...args]);
  assert.match(rotated, /^Rotated the token of user alice \(expires .* UTC\)\.\nAPI token \(shown once/);
  const second = rotated.match(/olp_[A-Za-z0-9_-]{43}/)![0];
  assert.notEqual(second, first.token);
  assert.deepEqual(hashes(), [hashToken(second).toString("hex")], "the old token is gone at once");
  assert.equal(store.users.get("alice").tokenPrefix, second.slice(0, 12));
  assert.equal(store.users.get("alice").expiresAt, Date.parse(first.expires_at), "rotate keeps the expiry");

  const third = JSON.parse(
    await ok(["users", "rotate", "alice", "--expires-in", "1h", "--json", ...args]),
  ) as {
    token: string;
    expires_at: string;
  };
  assert.ok(Math.abs(Date.parse(third.expires_at) - (Date.now() + 3_600_000)) < 60_000);
  assert.deepEqual(hashes(), [hashToken(third.token).toString("hex")]);

  assert.equal(await ok(["users", "delete", "alice", ...args]), "Deleted alice.");
  assert.deepEqual(store.users.list(), []);
  assert.deepEqual(hashes(), []);
  // The name is free again.
  await ok(["users", "create", "alice", ...args]);
});

test("deactivating twice, or activating an active user, is harmless", async (t) => {
  const { args, database } = cliSetup(t);
  await ok(["users", "create", "bob", ...args]);
  await ok(["users", "activate", "bob", ...args]);
  await ok(["users", "deactivate", "bob", ...args]);
  await ok(["users", "deactivate", "bob", ...args]);
  const store = openStore(database);
  t.after(() => store.close());
  assert.equal(store.users.get("bob").active, false);
});
