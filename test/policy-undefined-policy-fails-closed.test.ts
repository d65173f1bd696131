import assert from "node:assert/strict";
import { test } from "node:test";
import { ProxyError } from "../lib/errors.js";
import { createPolicies } from "../lib/policy/policies.js";
import { configWith, NOON, policyConfig, user } from "./policy-helpers.js";

// A user's policy: the one assigned, else `default`, else none (no limits). An assigned policy
// the config does not define refuses the user (403) — never lets it through unlimited.

test("the assigned policy, else default, else none", () => {
  const withDefault = createPolicies(
    configWith([policyConfig("default", { maxConcurrent: 8 }), policyConfig("batch", { weight: 0.25 })]),
  );
  assert.equal((withDefault.forUser(user("ann", "batch")) as { name: string }).name, "batch");
  assert.equal((withDefault.forUser(user("bob")) as { name: string }).name, "default");

  const noDefault = createPolicies(configWith([policyConfig("batch")]));
  assert.equal(noDefault.forUser(user("bob")), null, "no default: no limits");
  const noPolicies = createPolicies(configWith(null));
  assert.equal(noPolicies.forUser(user("bob")), null, "no policies key: today's behaviour");
});

test("an assigned policy the config does not define is a 403 that says so, with the reason for the log", () => {
  for (const config of [configWith([policyConfig("default"), policyConfig("batch")]), configWith(null)]) {
    const policies = createPolicies(config);
    const r = policies.forUser(user("carol", "gold"));
    assert.ok(r instanceof ProxyError, "refused, not let through");
    assert.equal(r.status, 403);
    assert.equal(r.code, "forbidden");
    assert.equal(
      r.message,
      'forbidden: user "carol" is assigned policy "gold", which this proxy does not define; ask its operator to define it or assign another',
    );
    assert.match(
      (r.cause as Error).message,
      /^user "carol" is refused: its policy "gold" is not defined in \/etc\/ollama-proxy\/config\.yml \(defined: (batch, default|none)\); define it and reload, or run: ollama-proxy users set carol --policy NAME$/,
    );
  }
});

test("a reload that removes a user's policy refuses the user; one that restores it lets the user in", () => {
  const batch = policyConfig("batch", { maxConcurrent: 1 });
  const policies = createPolicies(configWith([policyConfig("default"), batch]));
  const dave = user("dave", "batch");
  const p = policies.forUser(dave);
  assert.ok(!(p instanceof ProxyError) && p !== null);
  const lease = policies.begin(dave, p, NOON);
  assert.ok(!(lease instanceof ProxyError));

  policies.reload(configWith([policyConfig("default")]));
  const refused = policies.forUser(dave);
  assert.ok(refused instanceof ProxyError);
  assert.equal(refused.status, 403);
  assert.match((refused.cause as Error).message, /\(defined: default\)/);

  policies.reload(configWith([policyConfig("default"), batch]));
  const back = policies.forUser(dave);
  assert.ok(!(back instanceof ProxyError) && back !== null);
  // The request in flight across both reloads still holds its slot.
  const second = policies.begin(dave, back, NOON);
  assert.ok(second instanceof ProxyError && second.status === 429);
  lease.end(0, NOON);
  assert.ok(!(policies.begin(dave, back, NOON) instanceof ProxyError));
});
