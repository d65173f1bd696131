import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic, {
  type APIError,
  AuthenticationError,
  ContentTooLargeError,
  InternalServerError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
} from "@anthropic-ai/sdk";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// On /v1/messages every refusal is in Anthropic's shape,
// {"type":"error","error":{"type":...,"message":...},"request_id":...}, so that the Anthropic
// SDKs raise their typed errors and Claude Code shows the message: a bad token, a model
// nobody has, a model the policy forbids, a rate limit, a body too large, a server down.

const ask = { max_tokens: 64, messages: [{ role: "user" as const, content: "hi" }] };

/** What the SDK raised: its class, status, and the error body it read. */
async function raised(call: Promise<unknown>): Promise<APIError> {
  try {
    await call;
  } catch (err) {
    return err as APIError;
  }
  throw new Error("the call succeeded");
}

test("refusals on /v1/messages are Anthropic errors the SDK raises by type", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu", models: [{ name: "qwen3-coder:latest" }] });
  const spare = await startFakeOllama({ name: "spare", models: [{ name: "glm-4.7:latest" }] });
  t.after(() => Promise.all([gpu.close(), spare.close()]));
  const p = await startProxy(t, [gpu, spare], {
    extra: {
      policies: { default: { models: ["*"] }, coder: { models: ["qwen3*"], requests_per_minute: 1 } },
      limits: { max_body_mb: 1 },
    },
  });
  const store = openStore(p.config.database);
  const coderToken = store.users.create("carol", { policy: "coder" }).token;
  store.close();
  p.server.auth.refresh();
  const client = (token: string) => new Anthropic({ baseURL: p.url, authToken: token, maxRetries: 0 });

  const bad = await raised(client("olp_not-a-real-token").messages.create({ model: "qwen3-coder", ...ask }));
  assert.ok(bad instanceof AuthenticationError);
  assert.equal(bad.status, 401);
  assert.deepEqual(bad.error, {
    type: "error",
    error: {
      type: "authentication_error",
      message:
        "unauthorized: a valid API token is required (x-api-key: <token> or Authorization: Bearer <token>)",
    },
    request_id: bad.headers?.get("x-request-id"),
  });

  const missing = await raised(client(p.userToken).messages.create({ model: "no-such-model", ...ask }));
  assert.ok(missing instanceof NotFoundError);
  assert.equal(missing.type, "not_found_error");
  assert.match(String(missing.apiMessage), /model "no-such-model" not found/);

  const forbidden = await raised(client(coderToken).messages.create({ model: "glm-4.7", ...ask }));
  assert.ok(forbidden instanceof PermissionDeniedError);
  assert.equal(forbidden.type, "permission_error");
  assert.match(String(forbidden.apiMessage), /model "glm-4\.7" is not allowed/);
  assert.deepEqual(
    spare.work().filter((r) => r.path === "/v1/messages"),
    [],
    "a refused request reaches no server",
  );

  await client(coderToken).messages.create({ model: "qwen3-coder", ...ask });
  const limited = await raised(client(coderToken).messages.create({ model: "qwen3-coder", ...ask }));
  assert.ok(limited instanceof RateLimitError);
  assert.equal(limited.type, "rate_limit_error");
  assert.ok(limited.headers?.get("retry-after"), "the 429 says when to come back");

  const huge = await raised(
    client(p.userToken).messages.create({
      model: "qwen3-coder",
      max_tokens: 64,
      messages: [{ role: "user", content: "x".repeat(1_100_000) }],
    }),
  );
  assert.ok(huge instanceof ContentTooLargeError);
  assert.deepEqual((huge.error as { error: unknown }).error, {
    type: "request_too_large",
    message: "request body is larger than 1 MB",
  });

  await spare.kill();
  await waitFor(
    "spare marked down",
    () => p.server.fleet.servers().find((s) => s.key === "spare")?.health === "down",
  );
  const down = await raised(client(p.userToken).messages.create({ model: "glm-4.7", ...ask }));
  assert.ok(
    down instanceof InternalServerError,
    `a 503 is the SDK's server error (got ${down.constructor.name})`,
  );
  assert.equal(down.status, 503);
  assert.deepEqual((down.error as { error: unknown }).error, {
    type: "overloaded_error",
    message: "glm-4.7:latest is on spare, which is down",
  });
});
