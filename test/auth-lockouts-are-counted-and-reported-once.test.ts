import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import { type AuthBlock, createAuth } from "../lib/stages/authenticate.js";
import { openStore } from "../lib/store/open.js";
import { tempDir } from "./helpers.js";

// Lockouts are visible: a count of addresses blocked now and of blocks so far (for /health and
// /metrics), and one onBlock call per block (for one app-log line), not one per refused attempt.

const BAD = `Bearer olp_${"C".repeat(43)}`;

test("each block is reported once, counted, and expires", (t) => {
  const store = openStore(`${tempDir(t)}/users.sqlite3`);
  t.after(() => store.close());
  const blocks: AuthBlock[] = [];
  const auth = createAuth(store, { failuresPerMinute: 3, blockSeconds: 10, onBlock: (b) => blocks.push(b) });
  t.after(() => auth.close());
  const status = (address: string, now: number) => {
    const r = auth.authenticate(BAD, address, now);
    assert.ok(r instanceof ProxyError);
    return r.status;
  };
  const t0 = 5_000_000;
  assert.deepEqual(auth.lockouts(t0), { blocked: 0, total: 0 });

  for (let i = 0; i < 3; i++) assert.equal(status("10.0.0.1", t0 + i), 401);
  assert.deepEqual(blocks, [{ address: "10.0.0.1", failures: 3, until: t0 + 2 + 10_000 }]);
  for (let i = 0; i < 50; i++) assert.equal(status("10.0.0.1", t0 + 100 + i), 429);
  assert.equal(blocks.length, 1, "refused attempts during the block report nothing more");

  for (let i = 0; i < 3; i++) status("10.0.0.2", t0 + 1000 + i);
  assert.equal(blocks.length, 2);
  assert.equal(blocks[1]!.address, "10.0.0.2");
  assert.deepEqual(auth.lockouts(t0 + 2000), { blocked: 2, total: 2 });

  // The first block has ended; the second has not.
  assert.deepEqual(auth.lockouts(t0 + 10_500), { blocked: 1, total: 2 });
  assert.equal(status("10.0.0.1", t0 + 10_500), 401, "a fresh allowance after the block");
  assert.deepEqual(auth.lockouts(t0 + 20_000), { blocked: 0, total: 2 });

  // Blocked again later: a new block, reported again.
  for (let i = 0; i < 3; i++) status("10.0.0.1", t0 + 30_000 + i);
  assert.equal(blocks.length, 3);
  assert.deepEqual(auth.lockouts(t0 + 30_010), { blocked: 1, total: 3 });
});
