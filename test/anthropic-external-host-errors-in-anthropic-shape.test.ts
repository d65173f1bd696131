import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { startExternal } from "./external-helpers.js";

// An Anthropic host's refusal reaches a /v1/messages client as an Anthropic error the SDK
// raises by type, with the host named and its Retry-After kept.

test("the Anthropic host's own errors reach the client in Anthropic's shape", async (t) => {
  const x = await startExternal(t, "anthropic", {
    behaviour: { failWith: { status: 429, type: "rate_limit_error", message: "slow down", retryAfter: "7" } },
  });
  const client = new Anthropic({ baseURL: x.url, authToken: x.userToken, maxRetries: 0 });
  const err = await client.messages
    .create({ model: x.model, max_tokens: 16, messages: [{ role: "user", content: "hi" }] })
    .then(
      () => null,
      (e: unknown) => e as InstanceType<typeof Anthropic.RateLimitError>,
    );
  assert.ok(err instanceof Anthropic.RateLimitError);
  assert.equal(err.type, "rate_limit_error");
  assert.equal(err.apiMessage, "anthropic: slow down");
  assert.equal(err.headers?.get("retry-after"), "7");
});
