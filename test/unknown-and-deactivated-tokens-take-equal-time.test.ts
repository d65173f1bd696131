import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import { createAuth } from "../lib/stages/authenticate.js";
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

  const batch = (header: string) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < 200; i++) auth.authenticate(header, "10.0.0.1", 0);
    return Number(process.hrtime.bigint() - start) / 200;
  };
  // Many small batches, alternating, compared by their 10th percentile: whatever else the
  // machine does only ever adds time, so the fast end of each side is the code's own cost.
  // A real difference (a database look-up for one side) would be many times larger than the
  // tolerance and shows in every round; noise does not, so up to three rounds are measured.
  const p10 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 10)]!;
  const round = () => {
    const u: number[] = [];
    const d: number[] = [];
    for (let i = 0; i < 300; i++) {
      u.push(batch(`Bearer ${unknown}`));
      d.push(batch(`Bearer ${deactivated}`));
    }
    return [p10(u), p10(d)] as const;
  };
  round(); // warm up the JIT on both paths
  const seen: string[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    const [qu, qd] = round();
    seen.push(`unknown ${qu.toFixed(0)} ns vs deactivated ${qd.toFixed(0)} ns`);
    t.diagnostic(`round ${attempt}: ${seen.at(-1)}`);
    if (Math.abs(qu - qd) / Math.min(qu, qd) < 0.25) return;
  }
  assert.fail(`the two refusals cost measurably different times in every round: ${seen.join("; ")}`);
});
