import assert from "node:assert/strict";
import { test } from "node:test";
import { isGrant, isWaiting } from "../lib/schedule/scheduler.js";
import { Simulation, world } from "./fixtures/schedule-world.js";

// SPEC §10: a client that goes away while waiting is dropped at once; its request never reaches
// a server.

test("a cancelled ticket leaves the queue at once and never reaches the server", async (t) => {
  const w = world(t, { a: { parallel: 1, loaded: ["llama3:latest"] } });
  const sim = new Simulation(w, { numParallel: 1, serviceMs: 250 });
  const tiers = w.tiers(["a"]);
  const ticket = (user: string) => ({ user, weight: 1, model: "llama3:latest", tiers });
  const running = sim.send("holder", "llama3:latest", tiers);
  const leaving = w.sched.admit(ticket("leaving"));
  const staying = sim.send("staying", "llama3:latest", tiers);
  assert.ok(isWaiting(leaving));
  let settled = false;
  void leaving.promise.then(() => {
    settled = true;
  });
  assert.equal(w.sched.snapshot().waiting, 2);

  leaving.cancel();
  assert.equal(w.sched.snapshot().waiting, 1);
  assert.equal(w.sched.snapshot().totals.cancelled, 1);
  await w.clock.advance(1000);
  await running;
  const o = await staying;
  // The slot went to the next ticket, and the GPU saw two requests, not three.
  assert.equal(o.error, null);
  assert.equal(o.queuedMs, 250);
  assert.equal(sim.gpu("a").received, 2);
  assert.equal(settled, false, "a cancelled wait never settles");
  leaving.cancel(); // twice is harmless
  assert.equal(w.sched.snapshot().totals.cancelled, 1);
});

test("cancel after the grant was made but before it was used releases the slot", async (t) => {
  const w = world(t, { a: { parallel: 1 } });
  const ticket = { user: "u", weight: 1, model: "llama3:latest", tiers: w.tiers(["a"]) };
  const holder = w.sched.admit(ticket);
  const waiting = w.sched.admit(ticket);
  assert.ok(isGrant(holder) && isWaiting(waiting));
  holder.release();
  // Granted synchronously; the client leaves before the promise's reader ran.
  assert.equal(w.server("a").granted, 1);
  waiting.cancel();
  assert.equal(w.server("a").granted, 0);
  assert.ok(isGrant(w.sched.admit(ticket)), "the slot is free again");
});
