import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import OpenAI from "openai";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// Missing, malformed, unknown, expired and deactivated tokens all get the same 401: a caller
// learns nothing about which tokens exist or once existed.

const CHALLENGE = 'Bearer realm="ollama-proxy"';
const MESSAGE = "unauthorized: a valid API token is required (Authorization: Bearer <token>)";

test("every refusal reads the same, in each dialect", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  // Many refusals from one address: keep the failed-auth limit out of this test's way.
  const proxy = await startProxy(t, [backend], { extra: { limits: { auth_failures_per_minute: 1000 } } });

  // Another connection to the same file plays the CLI.
  const cli = openStore(proxy.config.database);
  t.after(() => cli.close());
  const expired = cli.users.create("old", { expiresAt: Date.now() - 1000 }).token;
  const inactive = cli.users.create("gone").token;
  cli.users.setActive("gone", false);
  const fresh = cli.users.create("fresh").token;
  await waitFor("the new users to reach the token map", async () => {
    const r = await fetch(`${proxy.url}/api/tags`, { headers: { authorization: `Bearer ${fresh}` } });
    return r.status === 200;
  });

  const unknown = `olp_${randomBytes(32).toString("base64url")}`;
  const refusals: Record<string, string | undefined> = {
    missing: undefined,
    empty: "",
    "scheme only": "Bearer",
    "basic auth": `Basic ${Buffer.from(`alice:${proxy.userToken}`).toString("base64")}`,
    "token without scheme": proxy.userToken,
    "too short": "Bearer olp_abc",
    "wrong prefix": `Bearer sk-${randomBytes(32).toString("base64url")}`,
    "one character off": `Bearer ${proxy.userToken.slice(0, -1)}${proxy.userToken.endsWith("A") ? "B" : "A"}`,
    "token with junk after it": `Bearer ${proxy.userToken}x`,
    unknown: `Bearer ${unknown}`,
    expired: `Bearer ${expired}`,
    deactivated: `Bearer ${inactive}`,
  };

  const ollamaBodies = new Set<string>();
  const openaiBodies = new Set<string>();
  for (const [what, authorization] of Object.entries(refusals)) {
    const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
    for (const [method, path] of [
      ["GET", "/api/tags"],
      ["POST", "/api/generate"],
      ["POST", "/api/pull"],
      ["GET", "/api/nonexistent"],
    ] as const) {
      const res = await fetch(`${proxy.url}${path}`, {
        method,
        headers,
        ...(method === "POST" ? { body: '{"model":"llama3"}' } : {}),
      });
      assert.equal(res.status, 401, `${what} ${path}`);
      assert.equal(res.headers.get("www-authenticate"), CHALLENGE, `${what} ${path}`);
      assert.ok(res.headers.get("x-request-id"));
      ollamaBodies.add(await res.text());
    }
    for (const path of ["/v1/models", "/v1/chat/completions"]) {
      const res = await fetch(`${proxy.url}${path}`, {
        method: path === "/v1/models" ? "GET" : "POST",
        headers,
      });
      assert.equal(res.status, 401, `${what} ${path}`);
      assert.equal(res.headers.get("www-authenticate"), CHALLENGE);
      openaiBodies.add(await res.text());
    }
  }
  assert.deepEqual([...ollamaBodies], [JSON.stringify({ error: MESSAGE })]);
  assert.deepEqual(
    [...openaiBodies],
    [JSON.stringify({ error: { message: MESSAGE, type: "authentication_error", code: "unauthorized" } })],
  );
  assert.deepEqual(backend.work(), [], "nothing refused reached the backend");

  // The real token, in any capitalisation of the scheme, with stray spaces, passes.
  for (const authorization of [
    `Bearer ${proxy.userToken}`,
    `bearer ${proxy.userToken}`,
    `BEARER  ${proxy.userToken} `,
  ]) {
    const res = await fetch(`${proxy.url}/api/tags`, { headers: { authorization } });
    assert.equal(res.status, 200, authorization);
  }
});

test("the openai SDK sees an AuthenticationError for a bad key", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: "olp_not-a-real-token", maxRetries: 0 });
  await assert.rejects(
    client.chat.completions.create({ model: "llama3", messages: [{ role: "user", content: "hi" }] }),
    (err: unknown) =>
      err instanceof OpenAI.AuthenticationError &&
      err.status === 401 &&
      err.message.includes(MESSAGE) &&
      (err.error as { type?: string }).type === "authentication_error",
  );
});
