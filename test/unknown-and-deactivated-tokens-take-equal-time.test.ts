import assert from "node:assert/strict";
import { test } from "node:test";
import { createAuth } from "../lib/auth.js";
import { ProxyError } from "../lib/errors.js";
import { openStore } from "../lib/store/open.js";
import { tempDir } from "./helpers.js";

// A token that never existed and the token of a deactivated user must be refused the same
// way and in the same time: otherwise timing tells an attacker which tokens were real. Both
// miss the in-memory map of active users' hashes; this measures that the two paths cost the
// same. Batches alternate, and medians are compared, so machine noise hits both sides alike.

test("unknown and deactivated tokens are refused identically and in indistinguishable time", (t) => {
  const dir = tempDir(t);
  const store = openStore(`${dir}/users.sqlite3`);
  t.after(() => store.close());
  const deactivated = store.users.create("gone").token;
  store.users.setActive("gone", false);
  const active = store.users.create("here").token;
  const unknown = `olp_${"A".repeat(43)}`;
  const auth = createAuth(store, { failuresPerMinute: 1e9, blockSeconds: 0 });
  t.after(() => auth.close());

  const refusal = (token: string) => {
    const r = auth.authenticate(`Bearer ${token}`, "10.0.0.1", Date.now());
    assert.ok(r instanceof ProxyError);
    return [r.status, r.message, JSON.stringify(r.headers)];
  };
  assert.deepEqual(refusal(unknown), refusal(deactivated));
  assert.ok(!(auth.authenticate(`Bearer ${active}`, "10.0.0.1", Date.now()) instanceof ProxyError));

  const batch = (token: string) => {
    const header = `Bearer ${token}`;
    const start = process.hrtime.bigint();
    for (let i = 0; i < 2000; i++) auth.authenticate(header, "10.0.0.1", 0);
    return Number(process.hrtime.bigint() - start) / 2000;
  };
  for (let i = 0; i < 5; i++) {
    // warm up the JIT on both paths
    batch(unknown);
    batch(deactivated);
  }
  const u: number[] = [];
  const d: number[] = [];
  for (let i = 0; i < 40; i++) {
    u.push(batch(unknown));
    d.push(batch(deactivated));
  }
  // The lower quartile: the cost of the code itself, least disturbed by whatever else the machine runs.
  const quartile = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 2]!;
  const qu = quartile(u);
  const qd = quartile(d);
  t.diagnostic(
    `per check (lower quartile of 40 batches): unknown ${qu.toFixed(0)} ns, deactivated ${qd.toFixed(0)} ns`,
  );
  assert.ok(Math.abs(qu - qd) / Math.min(qu, qd) < 0.2, `unknown ${qu} ns vs deactivated ${qd} ns`);
});
