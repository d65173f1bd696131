import assert from "node:assert/strict";
import { test } from "node:test";
import { isGrant, isWaiting } from "../lib/schedule/scheduler.js";
import { world } from "./fixtures/schedule-world.js";

// SPEC §10: SIGHUP applies `parallel` and `scheduler.*` live. Shrinking `parallel` never cuts a
// running request: the new limit only holds back new ones until enough have finished.

test("shrinking parallel keeps the running requests and holds new ones until below the new limit", async (t) => {
  const w = world(t, { a: { parallel: 3 } });
  const ticket = { user: "u", weight: 1, model: "llama3:latest", tiers: w.tiers(["a"]) };
  const running = [w.sched.admit(ticket), w.sched.admit(ticket), w.sched.admit(ticket)];
  assert.ok(running.every(isGrant));
  w.reload({ a: { parallel: 1 } });
  assert.equal(w.server("a").granted, 3, "nothing running was cut");
  const next = w.sched.admit(ticket);
  assert.ok(isWaiting(next));
  let granted = false;
  void next.promise.then(() => {
    granted = true;
  });
  running[0]!.release();
  running[1]!.release();
  await w.clock.advance(0);
  assert.equal(granted, false, "2 → 1 running: still at the new limit");
  running[2]!.release();
  await w.clock.advance(0);
  assert.equal(granted, true);
});

test("raising parallel lets waiting tickets in at once", async (t) => {
  const w = world(t, { a: { parallel: 1 } });
  const ticket = { user: "u", weight: 1, model: "llama3:latest", tiers: w.tiers(["a"]) };
  assert.ok(isGrant(w.sched.admit(ticket)));
  const waiting = [w.sched.admit(ticket), w.sched.admit(ticket)];
  assert.ok(waiting.every(isWaiting));
  w.reload({ a: { parallel: 3 } });
  assert.equal(w.server("a").granted, 3);
  assert.equal(w.sched.snapshot().waiting, 0);
});

test("unsetting parallel turns the scheduler off for that server: everything waiting goes", async (t) => {
  const w = world(t, { a: { parallel: 1 } });
  const ticket = { user: "u", weight: 1, model: "llama3:latest", tiers: w.tiers(["a"]) };
  assert.ok(isGrant(w.sched.admit(ticket)));
  for (let i = 0; i < 5; i++) assert.ok(isWaiting(w.sched.admit(ticket)));
  w.reload({ a: {} });
  assert.equal(w.sched.snapshot().waiting, 0);
  assert.equal(w.server("a").granted, 6);
});

test("a reloaded max_wait_seconds applies to tickets already waiting", async (t) => {
  const w = world(t, { a: { parallel: 1 } }, { max_wait_seconds: 300 });
  const ticket = { user: "u", weight: 1, model: "llama3:latest", tiers: w.tiers(["a"]) };
  assert.ok(isGrant(w.sched.admit(ticket)));
  const waiting = w.sched.admit(ticket);
  assert.ok(isWaiting(waiting));
  await w.clock.advance(5000);
  w.reload({ a: { parallel: 1 } }, { max_wait_seconds: 3 });
  await w.clock.advance(1000);
  assert.equal(w.sched.snapshot().waiting, 0);
  assert.equal(w.sched.snapshot().totals.waitTimeouts, 1);
});
