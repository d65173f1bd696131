import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import type { Lease } from "../lib/policy/limits.js";
import { createPolicies } from "../lib/policy/policies.js";
import { configWith, NOON, policyConfig, user } from "./policy-helpers.js";

// max_concurrent counts leases: taken when a request is authorised (so requests waiting in the
// scheduler count too), returned when its response is over. Over the limit: 429, Retry-After 1.

test("leases up to max_concurrent; the next is refused until one ends", () => {
  const policies = createPolicies(configWith([policyConfig("default", { maxConcurrent: 2 })]));
  const hal = user("hal");
  const p = policies.forUser(hal);
  assert.ok(p !== null && !(p instanceof ProxyError));
  const a = policies.begin(hal, p, NOON) as Lease;
  const b = policies.begin(hal, p, NOON) as Lease;
  assert.ok(!(a instanceof ProxyError) && !(b instanceof ProxyError));
  assert.equal(a.headers, null, "no x-ratelimit headers without requests_per_minute");

  const refused = policies.begin(hal, p, NOON);
  assert.ok(refused instanceof ProxyError);
  assert.equal(refused.status, 429);
  assert.equal(
    refused.message,
    'rate limited: user "hal" already has 2 requests in flight, the most policy "default" allows; retry when one has finished',
  );
  assert.deepEqual(refused.headers, { "retry-after": "1" });
  assert.deepEqual(policies.snapshot(NOON), [{ user: "hal", inFlight: 2, requestsLastMinute: 2 }]);

  // Another user has slots of its own.
  assert.ok(!(policies.begin(user("ivy"), p, NOON) instanceof ProxyError));

  a.end(10, NOON);
  a.end(10, NOON); // a second end (a close after an error) gives nothing back twice
  const c = policies.begin(hal, p, NOON);
  assert.ok(!(c instanceof ProxyError));
  assert.ok(policies.begin(hal, p, NOON) instanceof ProxyError, "one end frees one slot, not two");
  assert.equal(policies.tokensToday("hal", NOON), 10, "the tokens of the ended lease, once");
});

test("rate-limited users see their x-ratelimit headers on a concurrency 429 too", () => {
  const policies = createPolicies(
    configWith([policyConfig("default", { maxConcurrent: 1, requestsPerMinute: 10 })]),
  );
  const jo = user("jo");
  const p = policies.forUser(jo);
  assert.ok(p !== null && !(p instanceof ProxyError));
  assert.ok(!(policies.begin(jo, p, NOON) instanceof ProxyError));
  const refused = policies.begin(jo, p, NOON + 500);
  assert.ok(refused instanceof ProxyError);
  assert.deepEqual(refused.headers, {
    "x-ratelimit-limit-requests": "10",
    "x-ratelimit-remaining-requests": "9",
    "x-ratelimit-reset-requests": "59.5s",
    "retry-after": "1",
  });
});
