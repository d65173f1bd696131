import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import { createPolicies, type Policy } from "../lib/policy/policies.js";
import { configWith, NOON, policyConfig, user } from "./policy-helpers.js";

// SIGHUP applies a changed policy to the next request: models, limits, weight and options.
// What the users already used (in flight, this minute, today) carries over.

function resolve(policies: ReturnType<typeof createPolicies>, name: string, policy: string): Policy {
  const p = policies.forUser(user(name, policy));
  assert.ok(p !== null && !(p instanceof ProxyError));
  return p;
}

test("a reloaded policy applies to the next request; the counters carry over", () => {
  const policies = createPolicies(
    configWith([policyConfig("batch", { models: ["llama3*"], requestsPerMinute: 5, weight: 0.5 })]),
  );
  const erin = user("erin", "batch");
  let p = resolve(policies, "erin", "batch");
  assert.equal(policies.allows(p, "qwen2:7b"), false);
  assert.equal(policies.weight(p), 0.5);
  for (let i = 0; i < 3; i++) assert.ok(!(policies.begin(erin, p, NOON + i) instanceof ProxyError));
  assert.equal(policies.rewrite(p, "/api/generate", { model: "llama3", keep_alive: -1 }), false);

  policies.reload(
    configWith([
      policyConfig("batch", {
        models: ["llama3*", "qwen*"],
        requestsPerMinute: 3,
        weight: 2,
        options: { numCtxMax: null, numPredictMax: null, keepAlive: "5m" },
      }),
    ]),
  );
  p = resolve(policies, "erin", "batch");
  assert.equal(policies.allows(p, "qwen2:7b"), true);
  assert.equal(policies.weight(p), 2);
  const refused = policies.begin(erin, p, NOON + 10);
  assert.ok(
    refused instanceof ProxyError,
    "the 3 requests before the reload count against the new limit of 3",
  );
  assert.equal(refused.headers?.["x-ratelimit-limit-requests"], "3");
  const body = { model: "llama3", keep_alive: -1 };
  assert.equal(policies.rewrite(p, "/api/generate", body), true);
  assert.deepEqual(body, { model: "llama3", keep_alive: "5m" });
});

test("the weight is the scheduler's share: 1 without a policy", () => {
  const policies = createPolicies(configWith([policyConfig("interactive", { weight: 4 })]));
  assert.equal(policies.weight(null), 1);
  assert.equal(policies.weight(resolve(policies, "fay", "interactive")), 4);
  assert.deepEqual(policies.names(), ["interactive"]);
});
