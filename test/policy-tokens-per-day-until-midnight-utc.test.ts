import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import type { Lease } from "../lib/policy/limits.js";
import { createPolicies } from "../lib/policy/policies.js";
import { configWith, policyConfig, user } from "./policy-helpers.js";

// tokens_per_day: prompt + completion tokens, added when a response is over, per UTC day.
// Once spent, every request is a 429 until midnight UTC; the message says the quota and when
// it resets, and OpenAI's SDKs are told not to sleep until then.

const DAY = Date.UTC(2025, 2, 14);
const at = (h: number, m = 0, s = 0) => DAY + ((h * 60 + m) * 60 + s) * 1000;

test("the quota is spent by finished responses and refused until midnight UTC", () => {
  const policies = createPolicies(configWith([policyConfig("batch", { tokensPerDay: 1000 })]));
  const kim = user("kim", "batch");
  const p = policies.forUser(kim);
  assert.ok(p !== null && !(p instanceof ProxyError));

  const a = policies.begin(kim, p, at(9)) as Lease;
  const b = policies.begin(kim, p, at(9)) as Lease;
  assert.ok(!(a instanceof ProxyError) && !(b instanceof ProxyError));
  a.end(600, at(9, 1));
  assert.ok(!(policies.begin(kim, p, at(9, 2)) instanceof ProxyError), "600 of 1000: still under");
  // Responses already running when the quota is reached finish and count: the total may pass it.
  b.end(550, at(9, 3));
  assert.equal(policies.tokensToday("kim", at(9, 3)), 1150);

  const refused = policies.begin(kim, p, at(18, 47, 30));
  assert.ok(refused instanceof ProxyError);
  assert.equal(refused.status, 429);
  assert.equal(
    refused.message,
    'rate limited: user "kim" has used 1150 of the 1000 tokens per day that policy "batch" allows; the quota resets at midnight UTC (2025-03-15T00:00:00Z, in 5h 12m)',
  );
  assert.deepEqual(refused.headers, {
    "retry-after": String(5 * 3600 + 12 * 60 + 30),
    "x-should-retry": "false",
  });

  const lastSecond = policies.begin(kim, p, at(23, 59, 59) + 999);
  assert.ok(lastSecond instanceof ProxyError);
  assert.equal(lastSecond.headers?.["retry-after"], "1");
  assert.match(lastSecond.message, /\(2025-03-15T00:00:00Z, in 1s\)$/);

  // Midnight UTC: a new day, a whole quota.
  const next = policies.begin(kim, p, at(24));
  assert.ok(!(next instanceof ProxyError));
  assert.equal(policies.tokensToday("kim", at(24)), 0);
  next.end(999, at(24, 0, 5));
  assert.ok(!(policies.begin(kim, p, at(24, 1)) instanceof ProxyError));
  (policies.begin(kim, p, at(24, 1)) as Lease).end(1, at(24, 2));
  assert.ok(policies.begin(kim, p, at(24, 3)) instanceof ProxyError, "exactly the quota is spent");
});

test("a response that ends after midnight counts for the new day", () => {
  const policies = createPolicies(configWith([policyConfig("batch", { tokensPerDay: 100 })]));
  const lee = user("lee", "batch");
  const p = policies.forUser(lee);
  assert.ok(p !== null && !(p instanceof ProxyError));
  const late = policies.begin(lee, p, at(23, 59)) as Lease;
  late.end(100, at(24, 0, 30));
  assert.equal(policies.tokensToday("lee", at(24, 1)), 100);
  assert.ok(policies.begin(lee, p, at(24, 1)) instanceof ProxyError);
});

test("tokens of users without limits are counted too, so a quota assigned later starts right", () => {
  const policies = createPolicies(
    configWith([policyConfig("interactive"), policyConfig("batch", { tokensPerDay: 500 })]),
  );
  const max = user("max", "interactive");
  const p = policies.forUser(max);
  assert.ok(!(p instanceof ProxyError));
  (policies.begin(max, p, at(10)) as Lease).end(400, at(10, 1));
  (policies.begin(max, null, at(10)) as Lease).end(200, at(10, 2));
  assert.equal(policies.tokensToday("max", at(10, 2)), 600);

  // The operator moves max to batch (users set max --policy batch): the day's use counts at once.
  const batch = policies.forUser(user("max", "batch"));
  assert.ok(batch !== null && !(batch instanceof ProxyError));
  const refused = policies.begin(user("max", "batch"), batch, at(10, 3));
  assert.ok(refused instanceof ProxyError);
  assert.match(refused.message, /has used 600 of the 500 tokens per day/);
});
