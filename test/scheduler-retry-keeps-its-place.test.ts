import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import { isGrant, isWaiting } from "../lib/schedule/scheduler.js";
import type { Grant } from "../lib/schedule/types.js";
import { world } from "./fixtures/schedule-world.js";

// Failover before the first byte (SPEC §6.5) under the scheduler: `retry` frees the failed
// server's slot and asks for another candidate; when all are full the request waits at the
// place it got when it was first admitted, ahead of everything that came after it.

test("retry goes to another candidate with a free slot, keeping its queue time", async (t) => {
  const w = world(t, { a: { parallel: 1 }, b: { parallel: 1 } });
  const ticket = { user: "u", weight: 1, model: "llama3:latest", tiers: w.tiers(["a"], ["b"]) };
  const first = w.sched.admit(ticket);
  assert.ok(isGrant(first));
  assert.equal(first.server.key, "a");
  w.server("a").health = "down";
  const again = w.sched.retry(first, new Set([w.server("a")]));
  assert.ok(isGrant(again));
  assert.equal(again.server.key, "b");
  assert.equal(again.queuedMs, 0);
  assert.equal(w.server("a").granted, 0, "the failed attempt's slot is free");
  assert.equal(w.server("b").granted, 1);
});

test("retry with every other candidate full waits ahead of the same user's later tickets", async (t) => {
  const w = world(t, { a: { parallel: 1 }, b: { parallel: 1 } });
  // One user: between users, fair share decides first; the place decides among equals.
  const ticket = () => ({
    user: "u",
    weight: 1,
    model: "llama3:latest",
    tiers: w.tiers(["a", "b"]),
  });
  const early = w.sched.admit(ticket());
  const onB = w.sched.admit(ticket());
  assert.ok(isGrant(early) && isGrant(onB));
  assert.equal(early.server.key, "a");
  await w.clock.advance(100);
  const later = w.sched.admit(ticket());
  assert.ok(isWaiting(later));

  w.server("a").health = "down";
  const retried = w.sched.retry(early, new Set([w.server("a")]));
  assert.ok(isWaiting(retried));
  await w.clock.advance(50);
  onB.release();
  const got = (await retried.promise) as Grant;
  assert.ok(isGrant(got), "the retried ticket goes first: it was admitted first");
  assert.equal(got.server.key, "b");
  assert.equal(got.queuedMs, 50);
  assert.equal(w.sched.snapshot().waiting, 1);
});

test("retry with no candidate left answers 503 at once", async (t) => {
  const w = world(t, { a: { parallel: 1 } });
  const ticket = { user: "u", weight: 1, model: "llama3:latest", tiers: w.tiers(["a"]) };
  const g = w.sched.admit(ticket);
  assert.ok(isGrant(g));
  const err = w.sched.retry(g, new Set([w.server("a")]));
  assert.ok(err instanceof ProxyError);
  assert.equal(err.status, 503);
  assert.equal(
    err.message,
    'no server can take model "llama3:latest" any more: every other candidate is down or was already tried',
  );
  assert.equal(w.server("a").granted, 0);
});
