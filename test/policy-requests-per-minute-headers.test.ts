import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import { formatReset, type Lease } from "../lib/policy/limits.js";
import { createPolicies } from "../lib/policy/policies.js";
import { configWith, NOON, policyConfig, user } from "./policy-helpers.js";

// requests_per_minute is a sliding window of one-second buckets. Every answer to a user under
// it carries OpenAI's x-ratelimit-*-requests headers; over the limit is a 429 with Retry-After
// (whole seconds) saying when the oldest counted request leaves the window.

function setup(rpm: number) {
  const policies = createPolicies(configWith([policyConfig("batch", { requestsPerMinute: rpm })]));
  const u = user("gus", "batch");
  const p = policies.forUser(u);
  assert.ok(p !== null && !(p instanceof ProxyError));
  return { begin: (now: number) => policies.begin(u, p, now) };
}

function ok(r: Lease | ProxyError): Lease {
  assert.ok(!(r instanceof ProxyError), r instanceof ProxyError ? r.message : "");
  return r;
}

test("each lease carries the limit, what remains and when the window is empty again", () => {
  const { begin } = setup(3);
  assert.deepEqual(ok(begin(NOON)).headers, {
    "x-ratelimit-limit-requests": "3",
    "x-ratelimit-remaining-requests": "2",
    "x-ratelimit-reset-requests": "1m0s",
  });
  assert.deepEqual(ok(begin(NOON + 20_500)).headers, {
    "x-ratelimit-limit-requests": "3",
    "x-ratelimit-remaining-requests": "1",
    "x-ratelimit-reset-requests": "59.5s",
  });
  assert.equal(ok(begin(NOON + 30_000)).headers?.["x-ratelimit-remaining-requests"], "0");

  const refused = begin(NOON + 45_250);
  assert.ok(refused instanceof ProxyError);
  assert.equal(refused.status, 429);
  assert.equal(refused.code, "rate_limited");
  assert.equal(
    refused.message,
    'rate limited: user "gus" may send 3 requests per minute (policy "batch"); retry in 15 s',
  );
  assert.deepEqual(refused.headers, {
    "x-ratelimit-limit-requests": "3",
    "x-ratelimit-remaining-requests": "0",
    "x-ratelimit-reset-requests": "44.75s",
    "retry-after": "15",
    "retry-after-ms": "14750",
  });
  // A refused request is not counted: once the first leaves the window, one more fits.
  assert.ok(begin(NOON + 59_999) instanceof ProxyError);
  assert.equal(ok(begin(NOON + 60_000)).headers?.["x-ratelimit-remaining-requests"], "0");
  assert.ok(begin(NOON + 60_001) instanceof ProxyError);
  // Long after the last request, the window is empty and the limit whole.
  assert.deepEqual(ok(begin(NOON + 200_000)).headers, {
    "x-ratelimit-limit-requests": "3",
    "x-ratelimit-remaining-requests": "2",
    "x-ratelimit-reset-requests": "1m0s",
  });
});

test("a burst at one instant fills the limit; Retry-After is the wait for the whole minute", () => {
  const { begin } = setup(100);
  for (let i = 0; i < 100; i++) ok(begin(NOON + 400));
  const refused = begin(NOON + 400);
  assert.ok(refused instanceof ProxyError);
  assert.equal(refused.headers?.["retry-after"], "60");
  assert.equal(refused.headers?.["retry-after-ms"], "59600");
  assert.ok(begin(NOON + 59_999) instanceof ProxyError);
  ok(begin(NOON + 60_000));
});

test("Retry-After is at least one second, and OpenAI's reset format is Go's duration", () => {
  const { begin } = setup(1);
  ok(begin(NOON + 999));
  const refused = begin(NOON + 59_999);
  assert.ok(refused instanceof ProxyError);
  assert.equal(refused.headers?.["retry-after"], "1");
  assert.equal(refused.headers?.["retry-after-ms"], "1");
  assert.deepEqual([0, 17, 999, 1000, 1500, 59_250, 60_000, 61_000, 360_000].map(formatReset), [
    "0ms",
    "17ms",
    "999ms",
    "1s",
    "1.5s",
    "59.25s",
    "1m0s",
    "1m1s",
    "6m0s",
  ]);
});
