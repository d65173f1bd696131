import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import { isGrant, isWaiting } from "../lib/schedule/scheduler.js";
import type { Grant } from "../lib/schedule/types.js";
import { world } from "./fixtures/schedule-world.js";

// SPEC §10 / issue 12: a server marked down, or disabled by a reload, hands its waiting
// requests back to the scheduler: another candidate, or 503.

test("a server going down: its waiting tickets go to the other candidate, or get 503", async (t) => {
  const w = world(t, { a: { parallel: 1 }, b: { parallel: 1 } });
  const both = (user: string) => ({ user, weight: 1, model: "llama3:latest", tiers: w.tiers(["a"], ["b"]) });
  const onlyA = { user: "x", weight: 1, model: "llama3:latest", tiers: w.tiers(["a"]) };
  const onA = w.sched.admit(both("u1"));
  const onB = w.sched.admit(both("u2"));
  assert.ok(isGrant(onA) && isGrant(onB));
  assert.equal(onA.server.key, "a");
  assert.equal(onB.server.key, "b");
  const waitingBoth = w.sched.admit(both("u3"));
  const waitingA = w.sched.admit(onlyA);
  assert.ok(isWaiting(waitingBoth) && isWaiting(waitingA));

  w.server("a").health = "down";
  w.sched.serverDown(w.server("a"));
  const refused = await waitingA.promise;
  assert.ok(refused instanceof ProxyError);
  assert.equal(refused.status, 503);
  assert.equal(
    refused.message,
    'no server can take model "llama3:latest" any more: server "a" went down while the request waited',
  );
  assert.deepEqual(refused.headers, { "retry-after": "5" });
  assert.equal(w.sched.snapshot().waiting, 1, "the other ticket still waits, for b");

  onB.release();
  const moved = (await waitingBoth.promise) as Grant;
  assert.ok(isGrant(moved));
  assert.equal(moved.server.key, "b");
});

test("a server disabled by a reload hands back its waiting tickets", async (t) => {
  const w = world(t, { a: { parallel: 1 }, b: { parallel: 1 } });
  const onlyA = { user: "x", weight: 1, model: "llama3:latest", tiers: w.tiers(["a"]) };
  const running = w.sched.admit(onlyA);
  const waiting = w.sched.admit(onlyA);
  assert.ok(isGrant(running) && isWaiting(waiting));
  w.reload({ b: { parallel: 1 } });
  const refused = await waiting.promise;
  assert.ok(refused instanceof ProxyError);
  assert.equal(
    refused.message,
    'no server can take model "llama3:latest" any more: its servers were disabled or removed by a configuration reload',
  );
  running.release(); // the running request was not cut; releasing it later is fine
  assert.equal(w.server("a").granted, 0);
});

test("a waiting ticket moves to a server that comes back up, without any event", async (t) => {
  const w = world(t, { a: { parallel: 1 }, b: { parallel: 1 } });
  w.server("b").health = "down";
  const ticket = { user: "u", weight: 1, model: "llama3:latest", tiers: w.tiers(["a", "b"]) };
  assert.ok(isGrant(w.sched.admit(ticket)));
  const waiting = w.sched.admit(ticket);
  assert.ok(isWaiting(waiting));
  w.server("b").health = "up";
  await w.clock.advance(1000);
  const got = (await waiting.promise) as Grant;
  assert.equal(got.server.key, "b");
  assert.equal(got.queuedMs, 1000);
});
