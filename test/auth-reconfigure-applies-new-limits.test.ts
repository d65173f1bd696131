import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import { createAuth } from "../lib/stages/authenticate.js";
import { openStore } from "../lib/store/open.js";
import { tempDir } from "./helpers.js";

// SIGHUP applies limits.auth_*: auth.reconfigure takes them without a restart. New failures
// count against the new threshold, and a block in force takes the new length (shortening it
// to 0 lifts every block at once). Time is passed in, so nothing here waits.

const BAD = `Bearer olp_${"B".repeat(43)}`;

function setup(t: import("node:test").TestContext) {
  const store = openStore(`${tempDir(t)}/users.sqlite3`);
  t.after(() => store.close());
  const good = `Bearer ${store.users.create("alice").token}`;
  const auth = createAuth(store, { failuresPerMinute: 5, blockSeconds: 300 });
  t.after(() => auth.close());
  const status = (authorization: string, now: number) => {
    const r = auth.authenticate(authorization, "10.0.0.7", now);
    return r instanceof ProxyError ? r.status : 200;
  };
  const retryAfter = (now: number) => {
    const r = auth.authenticate(BAD, "10.0.0.7", now);
    assert.ok(r instanceof ProxyError && r.status === 429, "blocked");
    return r.headers?.["retry-after"];
  };
  return { auth, good, status, retryAfter };
}

test("a lower failure threshold applies to the next failure", (t) => {
  const { auth, status } = setup(t);
  const t0 = 1_000_000;
  assert.equal(status(BAD, t0), 401);
  assert.equal(status(BAD, t0 + 1), 401);
  auth.reconfigure({ failuresPerMinute: 3, blockSeconds: 300 });
  assert.equal(status(BAD, t0 + 2), 401, "the third failure blocks");
  assert.equal(status(BAD, t0 + 3), 429);
  assert.deepEqual(auth.lockouts(t0 + 3), { blocked: 1, total: 1 });
});

test("a new block length applies to blocks in force; 0 lifts them", (t) => {
  const { auth, good, status, retryAfter } = setup(t);
  const t0 = 1_000_000;
  for (let i = 0; i < 5; i++) assert.equal(status(BAD, t0 + i), 401);
  assert.equal(retryAfter(t0 + 10), "300");

  auth.reconfigure({ failuresPerMinute: 5, blockSeconds: 600 });
  assert.equal(retryAfter(t0 + 10), "600", "lengthened");
  auth.reconfigure({ failuresPerMinute: 5, blockSeconds: 30 });
  // The fifth failure, at t0 + 4, began the block.
  assert.equal(retryAfter(t0 + 10_004), "20", "shortened, counted from when the block began");
  assert.equal(status(good, t0 + 10_000), 200, "a valid token throughout");

  auth.reconfigure({ failuresPerMinute: 5, blockSeconds: 0 });
  assert.equal(status(BAD, t0 + 10_001), 401, "no more blocks");
  assert.deepEqual(auth.lockouts(t0 + 10_001), { blocked: 0, total: 1 });
  for (let i = 0; i < 20; i++) assert.equal(status(BAD, t0 + 10_002 + i), 401, "0 s blocks nothing");
  assert.deepEqual(auth.lockouts(t0 + 20_000), { blocked: 0, total: 1 });
});
