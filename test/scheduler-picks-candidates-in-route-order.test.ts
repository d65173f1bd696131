import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import { isGrant, isWaiting } from "../lib/schedule/scheduler.js";
import { world } from "./fixtures/schedule-world.js";

// The scheduler replaces nextCandidate for the forward stage (SPEC §6.4): tier by tier; within a
// tier the fewest in flight, a server holding the model on a tie; down servers skipped. With
// slots, a full server is skipped too — the request spills to the next tier before it waits.

const MODEL = "llama3:latest";
const ticket = (tiers: import("../lib/routing/server-state.js").ServerState[][]) => ({
  user: "u",
  weight: 1,
  model: MODEL,
  tiers,
});

test("without slots: first tier, fewest in flight, the one holding the model on a tie", async (t) => {
  const w = world(t, { a: {}, b: { loaded: [MODEL] }, c: {} });
  const tiers = w.tiers(["a", "b"], ["c"]);
  const picks = [1, 2, 3, 4].map(() => {
    const g = w.sched.admit(ticket(tiers));
    assert.ok(isGrant(g));
    return g.server.key;
  });
  // b holds the model (its /api/ps); once a got a request for it, a holds it too: then order.
  assert.deepEqual(picks, ["b", "a", "a", "b"]);
  w.server("a").health = "down";
  w.server("b").health = "down";
  const g = w.sched.admit(ticket(tiers));
  assert.ok(isGrant(g));
  assert.equal(g.server.key, "c");
  w.server("c").health = "down";
  const none = w.sched.admit(ticket(tiers));
  assert.ok(none instanceof ProxyError);
  assert.equal(none.message, "no Ollama server is available");
  assert.deepEqual(none.headers, { "retry-after": "5" });
});

test("with slots: a full tier spills to the next; when every candidate is full the request waits", async (t) => {
  const w = world(t, { a: { parallel: 2 }, b: { parallel: 1, priority: 2 } });
  const tiers = w.tiers(["a"], ["b"]);
  const keys = [1, 2, 3].map(() => {
    const g = w.sched.admit(ticket(tiers));
    assert.ok(isGrant(g));
    return g.server.key;
  });
  assert.deepEqual(keys, ["a", "a", "b"]);
  assert.ok(isWaiting(w.sched.admit(ticket(tiers))));
});

test("slots are per model, like OLLAMA_NUM_PARALLEL", async (t) => {
  const w = world(t, { a: { parallel: 1 } });
  const tiers = w.tiers(["a"]);
  assert.ok(isGrant(w.sched.admit({ user: "u", weight: 1, model: "one:latest", tiers })));
  assert.ok(isGrant(w.sched.admit({ user: "u", weight: 1, model: "two:latest", tiers })));
  assert.ok(isWaiting(w.sched.admit({ user: "u", weight: 1, model: "one:latest", tiers })));
});
