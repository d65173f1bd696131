import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import { isGrant, isWaiting } from "../lib/schedule/scheduler.js";
import { world } from "./fixtures/schedule-world.js";

// SPEC §10, bounds: more than scheduler.max_queue waiting → 503 with Retry-After at once, not
// after a wait; the tickets already waiting keep their places.

test("one ticket more than max_queue gets a 503 with Retry-After at once", async (t) => {
  const w = world(t, { a: { parallel: 1 } }, { max_queue: 3 });
  const ticket = (user: string) => ({ user, weight: 1, model: "llama3:latest", tiers: w.tiers(["a"]) });
  const running = w.sched.admit(ticket("u0"));
  assert.ok(isGrant(running));
  const waiting = [1, 2, 3].map((i) => w.sched.admit(ticket(`u${i}`)));
  assert.ok(waiting.every(isWaiting));
  await w.clock.advance(1500);

  const refused = w.sched.admit(ticket("u4"));
  assert.ok(refused instanceof ProxyError);
  assert.equal(refused.status, 503);
  assert.equal(
    refused.message,
    "every server for this model is busy and 3 requests are already waiting (scheduler.max_queue); retry later",
  );
  // About as long as the oldest has waited: 1.5 s, rounded up.
  assert.deepEqual(refused.headers, { "retry-after": "2" });
  assert.equal(w.sched.snapshot().waiting, 3);
  assert.equal(w.sched.snapshot().totals.queueFull, 1);

  // The queue moves on as before: a slot frees, the first waiting ticket gets it.
  running.release();
  const first = waiting[0]!;
  assert.ok(isWaiting(first));
  const got = await first.promise;
  assert.ok(isGrant(got));
  assert.equal(got.queuedMs, 1500);
});

test("max_queue: 0 means nothing ever waits", async (t) => {
  const w = world(t, { a: { parallel: 1 } }, { max_queue: 0 });
  const ticket = { user: "u", weight: 1, model: "llama3:latest", tiers: w.tiers(["a"]) };
  assert.ok(isGrant(w.sched.admit(ticket)));
  const refused = w.sched.admit(ticket);
  assert.ok(refused instanceof ProxyError);
  assert.equal(refused.status, 503);
  assert.deepEqual(refused.headers, { "retry-after": "1" });
});
