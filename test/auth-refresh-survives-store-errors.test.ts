import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { createAuth } from "../lib/stages/authenticate.js";
import { openStore } from "../lib/store/open.js";
import { tempDir } from "./helpers.js";

// The token map is refreshed from SQLite on a timer. A refresh that fails (a busy or broken
// database) must leave the last good map in place: a timer that throws would take the whole
// proxy, and every stream on it, down.

test("a failing refresh keeps the last token map and does not crash the process", async (t) => {
  const store = openStore(join(tempDir(t), "proxy.sqlite3"));
  const { token } = store.users.create("alice");
  let failures = 0;
  let sawFailures: () => void = () => {};
  const failedTwice = new Promise<void>((resolve) => {
    sawFailures = resolve;
  });
  const auth = createAuth(store, {
    refreshMs: 5,
    failuresPerMinute: 100,
    blockSeconds: 1,
    onRefreshError: (err) => {
      assert.match(err.message, /not open/);
      if (++failures === 2) sawFailures();
    },
  });
  t.after(() => auth.close());
  const who = () => (auth.authenticate(`Bearer ${token}`, "127.0.0.1", Date.now()) as { name?: string }).name;
  assert.equal(who(), "alice");

  // The refresh timer is unref'd (it must not keep a stopping proxy alive): hold the loop open.
  const alive = setInterval(() => {}, 60_000);
  t.after(() => clearInterval(alive));
  store.close(); // every query from here on throws
  await failedTwice; // the timer kept running after its first failure
  assert.equal(who(), "alice", "the last good map is still in use");
});
