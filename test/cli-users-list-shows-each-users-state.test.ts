import assert from "node:assert/strict";
import { test } from "node:test";
import { openStore } from "../lib/store/open.js";
import { cliSetup, runCli } from "./helpers.js";

// `users list` shows each user as its token works right now — active, deactivated or
// expired (the stored flag alone would call an expired user active) — with times in ISO
// 8601 UTC, in the table and in --json ("expired": true).

test("active, deactivated and expired users, in the table and in JSON", async (t) => {
  const { args, database } = cliSetup(t);
  for (const name of ["ann", "ben", "cid"])
    assert.equal((await runCli(["users", "create", name, ...args])).code, 0);
  assert.equal((await runCli(["users", "deactivate", "ben", ...args])).code, 0);
  // cid's token ran out a minute ago (the CLI refuses an expiry in the past, so set it as time would).
  const store = openStore(database);
  const expiredAt = Date.now() - 60_000;
  store.db.prepare("UPDATE users SET expires_at = ? WHERE name = 'cid'").run(expiredAt);
  store.close();

  const table = await runCli(["users", "list", ...args]);
  assert.equal(table.code, 0, table.err);
  const rows = table.out.split("\n").map((l) => l.split(/\s{2,}/));
  assert.deepEqual(rows[0], ["NAME", "ROLE", "POLICY", "STATE", "TOKEN", "EXPIRES", "LAST USED", "CREATED"]);
  assert.deepEqual(
    rows.slice(1).map((r) => [r[0], r[3], r[5], r[6]]),
    [
      ["ann", "active", "-", "-"],
      ["ben", "deactivated", "-", "-"],
      ["cid", "expired", `${new Date(expiredAt).toISOString().slice(0, 19)}Z`, "-"],
    ],
  );
  for (const r of rows.slice(1))
    assert.match(r[7]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, "created, ISO 8601 UTC");

  const json = await runCli(["users", "list", "--json", ...args]);
  const users = JSON.parse(json.out) as {
    name: string;
    state: string;
    active: boolean;
    expired: boolean;
    expires_at: string | null;
  }[];
  assert.deepEqual(
    users.map((u) => [u.name, u.state, u.active, u.expired]),
    [
      ["ann", "active", true, false],
      ["ben", "deactivated", false, false],
      ["cid", "expired", true, true],
    ],
  );
  assert.equal(users[2]!.expires_at, new Date(expiredAt).toISOString());
});
