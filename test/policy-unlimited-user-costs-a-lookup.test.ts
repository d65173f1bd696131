import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import { createPolicies } from "../lib/policy/policies.js";
import { configWith, NOON, policyConfig, user } from "./policy-helpers.js";

// A user without limits (no policy, or a policy that sets none) must cost nothing measurable:
// its lease is one object per user, reused by every request, with no headers and nothing to
// hold; its models are allowed without a look at the name; its bodies are never parsed.

test("no policy or a limit-free one: one reused lease per user, no headers, no rewrite", () => {
  for (const config of [configWith(null), configWith([policyConfig("default", { weight: 3 })])]) {
    const policies = createPolicies(config);
    const nia = user("nia");
    const p = policies.forUser(nia);
    assert.ok(!(p instanceof ProxyError));
    const first = policies.begin(nia, p, NOON);
    assert.ok(!(first instanceof ProxyError));
    assert.equal(first.headers, null);
    for (let i = 0; i < 1000; i++)
      assert.equal(policies.begin(nia, p, NOON + i), first, "the same object every time");
    assert.notEqual(policies.begin(user("oz"), p, NOON), first, "each user its own");
    assert.equal(policies.allows(p, "anything:70b"), true);
    assert.equal(policies.rewrites(p, "/api/generate"), false);
    assert.deepEqual(policies.snapshot(NOON), [], "nothing counted in flight");
    // Tokens still count (a quota assigned later starts from the day's true use).
    first.end(5, NOON);
    first.end(7, NOON);
    assert.equal(policies.tokensToday("nia", NOON), 12);
  }
});
