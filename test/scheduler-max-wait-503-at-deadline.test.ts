import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import { isGrant, isWaiting } from "../lib/schedule/scheduler.js";
import type { Grant } from "../lib/schedule/types.js";
import { world } from "./fixtures/schedule-world.js";

// SPEC §10, bounds: a wait longer than scheduler.max_wait_seconds → 503 with Retry-After, at the
// deadline. One timer serves the whole queue (the oldest ticket's deadline), not one per request.

test("a ticket waiting max_wait_seconds gets a 503 at its deadline, not before", async (t) => {
  const w = world(t, { a: { parallel: 1 } }, { max_wait_seconds: 2 });
  const ticket = (user: string) => ({ user, weight: 1, model: "llama3:latest", tiers: w.tiers(["a"]) });
  assert.ok(isGrant(w.sched.admit(ticket("holder"))));
  const first = w.sched.admit(ticket("first"));
  await w.clock.advance(500);
  const second = w.sched.admit(ticket("second"));
  assert.ok(isWaiting(first) && isWaiting(second));
  const settled = new Map<string, { at: number; value: Grant | ProxyError }>();
  void first.promise.then((value) => {
    settled.set("first", { at: w.clock.now(), value });
  });
  void second.promise.then((value) => {
    settled.set("second", { at: w.clock.now(), value });
  });

  await w.clock.advance(1499);
  assert.equal(settled.size, 0);
  await w.clock.advance(1);
  assert.equal(settled.get("first")?.at, 2000);
  const err = settled.get("first")?.value;
  assert.ok(err instanceof ProxyError);
  assert.equal(err.status, 503);
  assert.equal(
    err.message,
    "no server had a free slot for this request within 2 s (scheduler.max_wait_seconds); retry later",
  );
  assert.deepEqual(err.headers, { "retry-after": "2" });
  assert.equal(settled.has("second"), false);
  await w.clock.advance(500);
  assert.equal(settled.get("second")?.at, 2500);
  assert.equal(w.sched.snapshot().totals.waitTimeouts, 2);
  assert.equal(w.sched.snapshot().waiting, 0);
});

test("a hundred waiting tickets share one timer", async (t) => {
  const w = world(t, { a: { parallel: 1 } });
  const ticket = { user: "u", weight: 1, model: "llama3:latest", tiers: w.tiers(["a"]) };
  assert.equal(w.clock.timers(), 0);
  assert.ok(isGrant(w.sched.admit(ticket)));
  assert.equal(w.clock.timers(), 0, "the fast path sets no timer");
  for (let i = 0; i < 100; i++) assert.ok(isWaiting(w.sched.admit(ticket)));
  assert.equal(w.clock.timers(), 1);
});
