import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy } from "./helpers.js";

// Claude Code with ANTHROPIC_API_KEY, and the Anthropic SDKs before 1.0, send the token as
// `x-api-key` (with anthropic-version). On Anthropic's paths the proxy takes it like a bearer
// token — same check, same lockout — and never passes it on; anywhere else it means nothing.

const body = { model: "qwen3-coder", max_tokens: 64, messages: [{ role: "user", content: "hi" }] };
const VERSION = { "anthropic-version": "2023-06-01" };

test("x-api-key carries the token on /v1/messages only, and never reaches the backend", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu", models: [{ name: "qwen3-coder:latest" }] });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], {
    extra: { limits: { auth_failures_per_minute: 3, auth_block_seconds: 60 } },
  });

  const ok = await post(`${p.url}/v1/messages`, body, { "x-api-key": p.userToken, ...VERSION });
  assert.equal(ok.status, 200);
  assert.equal((ok.body as { type: string }).type, "message");
  const sent = gpu.work().at(-1)!;
  assert.equal(sent.path, "/v1/messages");
  assert.equal(sent.headers["x-api-key"], undefined, "the token is not forwarded");
  assert.equal(sent.headers.authorization, undefined);
  assert.equal(sent.headers["anthropic-version"], "2023-06-01", "the client's API version goes along");

  // A bearer token, when there is one, is the credential.
  const both = await post(`${p.url}/v1/messages`, body, {
    authorization: `Bearer ${p.userToken}`,
    "x-api-key": "sk-ant-something-else",
  });
  assert.equal(both.status, 200);

  // Elsewhere x-api-key is no token at all: each dialect's own 401.
  const chat = await post(
    `${p.url}/api/chat`,
    { model: "qwen3-coder", messages: [] },
    { "x-api-key": p.userToken },
  );
  assert.equal(chat.status, 401);
  assert.deepEqual(chat.body, {
    error: "unauthorized: a valid API token is required (Authorization: Bearer <token>)",
  });
  const openai = await post(`${p.url}/v1/chat/completions`, body, { "x-api-key": p.userToken });
  assert.equal(openai.status, 401);
  assert.equal((openai.body as { error: { type: string } }).error.type, "authentication_error");

  // No token: Anthropic's 401, with the challenge.
  const none = await post(`${p.url}/v1/messages`, body, VERSION);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="ollama-proxy"');
  assert.deepEqual(none.body, {
    type: "error",
    error: {
      type: "authentication_error",
      message:
        "unauthorized: a valid API token is required (x-api-key: <token> or Authorization: Bearer <token>)",
    },
    request_id: none.headers.get("x-request-id"),
  });

  // Ollama serves no other Anthropic path (count_tokens, batches): a 404 in Anthropic's shape.
  const count = await post(`${p.url}/v1/messages/count_tokens`, body, {
    "x-api-key": p.userToken,
    ...VERSION,
  });
  assert.equal(count.status, 404);
  assert.deepEqual((count.body as { error: unknown }).error, {
    type: "not_found_error",
    message: "/v1/messages/count_tokens is not an Ollama endpoint",
  });

  // Wrong keys count toward the lockout like wrong bearer tokens.
  for (let i = 0; i < 3; i++) {
    const wrong = await post(`${p.url}/v1/messages`, body, { "x-api-key": `olp_${"x".repeat(43)}` });
    assert.equal(wrong.status, 401);
  }
  const blocked = await post(`${p.url}/v1/messages`, body, { "x-api-key": `olp_${"x".repeat(43)}` });
  assert.equal(blocked.status, 429);
  assert.deepEqual((blocked.body as { error: unknown }).error, {
    type: "rate_limit_error",
    message: "too many failed authentication attempts; try again later",
  });
  // A valid key is still served from the blocked address.
  const still = await post(`${p.url}/v1/messages`, body, { "x-api-key": p.userToken });
  assert.equal(still.status, 200);
});
