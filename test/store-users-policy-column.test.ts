import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { MIGRATIONS } from "../lib/store/migrations.js";
import { openStore } from "../lib/store/open.js";
import { tempDir } from "./helpers.js";

// Migration 3 gives users a policy (null: the config's default) and adds the usage snapshot
// table; a database from before it keeps its users, with no policy.

test("a version-2 database is migrated: its users keep their tokens and get no policy", (t) => {
  const path = join(tempDir(t), "proxy.sqlite3");
  const old = new Database(path);
  for (const m of MIGRATIONS.filter((m) => m.version <= 2)) old.exec(m.sql);
  old.pragma("user_version = 2");
  old
    .prepare(
      "INSERT INTO users (name, role, token_hash, token_prefix, created_at, updated_at) VALUES ('ann', 'user', x'00', 'olp_x', 1, 1)",
    )
    .run();
  old.close();

  const store = openStore(path);
  t.after(() => store.close());
  assert.ok((store.db.pragma("user_version", { simple: true }) as number) >= 3);
  assert.equal(store.users.get("ann").policy, null);
  assert.equal(store.users.credentials()[0]?.user.policy, null);
  assert.deepEqual(store.db.prepare("SELECT * FROM policy_usage").all(), []);
});

test("create with a policy, update it, clear it; update keeps what it is not given", (t) => {
  const store = openStore(join(tempDir(t), "proxy.sqlite3"));
  t.after(() => store.close());
  const { user, token } = store.users.create("bob", { policy: "batch", expiresAt: 5_000_000_000_000 });
  assert.equal(user.policy, "batch");
  assert.equal(store.users.credentials()[0]?.user.policy, "batch", "the token map sees the policy");

  assert.equal(store.users.update("bob", { policy: "interactive" }).policy, "interactive");
  const admin = store.users.update("bob", { role: "admin" });
  assert.deepEqual([admin.role, admin.policy, admin.expiresAt], ["admin", "interactive", 5_000_000_000_000]);
  const cleared = store.users.update("bob", { policy: null, expiresAt: null });
  assert.deepEqual([cleared.role, cleared.policy, cleared.expiresAt], ["admin", null, null]);
  assert.equal(store.users.create("cy").user.policy, null);
  assert.throws(() => store.users.update("ghost", { policy: "x" }), /no user named "ghost"/);
  // The token is untouched by an update.
  assert.equal(
    store.users.credentials().find((c) => c.user.name === "bob")?.user.tokenPrefix,
    token.slice(0, 12),
  );
});
