import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import type { UserUse } from "../lib/policy/limits.js";
import { HEARTBEAT_MS, readUsage, startUsageSnapshots } from "../lib/policy/snapshot.js";
import { openStore } from "../lib/store/open.js";
import { tempDir } from "./helpers.js";

// The running server copies its in-memory counters (in flight, requests in the last minute)
// to policy_usage for `users show`: only what changed, from a timer on its own connection that
// never waits for a lock, and nothing left behind when it stops.

function setup(t: Parameters<typeof tempDir>[0]) {
  const path = join(tempDir(t), "proxy.sqlite3");
  const store = openStore(path);
  t.after(() => store.close());
  let busy: UserUse[] = [];
  const snapshots = startUsageSnapshots({ path, read: () => busy, everyMs: 3_600_000 });
  let closed = false;
  t.after(() => {
    if (!closed) snapshots.close();
  });
  const rows = () =>
    store.db
      .prepare(
        "SELECT user_name, in_flight, requests_last_minute, updated_at FROM policy_usage ORDER BY user_name",
      )
      .all();
  return {
    path,
    store,
    snapshots,
    rows,
    set: (next: UserUse[]) => {
      busy = next;
    },
    close: () => {
      closed = true;
      snapshots.close();
    },
  };
}

test("rows follow the busy users: written when changed, deleted when idle, cleared at close", (t) => {
  const s = setup(t);
  // Rows a crashed server left behind are not the running one's.
  s.store.db.prepare("INSERT INTO policy_usage VALUES ('ghost', 3, 3, 1)").run();
  s.snapshots.tick(1000);
  assert.deepEqual(s.rows(), []);

  s.set([{ user: "ann", inFlight: 2, requestsLastMinute: 5 }]);
  s.snapshots.tick(2000);
  assert.deepEqual(s.rows(), [{ user_name: "ann", in_flight: 2, requests_last_minute: 5, updated_at: 2000 }]);
  assert.deepEqual(readUsage(s.store.db, "ann"), { inFlight: 2, requestsLastMinute: 5, updatedAt: 2000 });
  assert.equal(readUsage(s.store.db, "bob"), null);

  // Unchanged figures are not written again until the heartbeat is due.
  s.snapshots.tick(3000);
  assert.equal((s.rows()[0] as { updated_at: number }).updated_at, 2000);
  s.snapshots.tick(2000 + HEARTBEAT_MS);
  assert.equal((s.rows()[0] as { updated_at: number }).updated_at, 2000 + HEARTBEAT_MS);

  s.set([
    { user: "ann", inFlight: 1, requestsLastMinute: 5 },
    { user: "bob", inFlight: 0, requestsLastMinute: 1 },
  ]);
  s.snapshots.tick(20_000);
  assert.deepEqual(s.rows(), [
    { user_name: "ann", in_flight: 1, requests_last_minute: 5, updated_at: 20_000 },
    { user_name: "bob", in_flight: 0, requests_last_minute: 1, updated_at: 20_000 },
  ]);

  s.set([{ user: "bob", inFlight: 0, requestsLastMinute: 1 }]);
  s.snapshots.tick(21_000);
  assert.deepEqual(s.rows(), [
    { user_name: "bob", in_flight: 0, requests_last_minute: 1, updated_at: 20_000 },
  ]);

  s.close();
  assert.deepEqual(s.rows(), [], "a stopped server has nothing in flight");
});

test("a lock held elsewhere skips the tick without waiting; the next tick writes", (t) => {
  const s = setup(t);
  s.snapshots.tick(1000);
  const other = new Database(s.path);
  t.after(() => other.close());
  other.prepare("BEGIN IMMEDIATE").run();
  s.set([{ user: "ann", inFlight: 4, requestsLastMinute: 4 }]);
  const t0 = performance.now();
  s.snapshots.tick(2000);
  assert.ok(performance.now() - t0 < 1000, "the tick did not wait for the lock");
  other.prepare("ROLLBACK").run();
  assert.deepEqual(s.rows(), []);
  s.snapshots.tick(3000);
  assert.deepEqual(s.rows(), [{ user_name: "ann", in_flight: 4, requests_last_minute: 4, updated_at: 3000 }]);
});
