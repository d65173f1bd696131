import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// A path Ollama does not serve is 404 — but only to someone with a token: without one it is
// 401 like everything else, so the proxy's surface cannot be mapped anonymously. A known
// path with the wrong method is 405 with Allow (RFC 9110 §15.5.6).

test("unknown paths: 404 for a user, 401 without a token, in each dialect", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  for (const path of ["/api/nope", "/api", "/api/generate/extra", "/admin", "/API/TAGS", "/api/tags/"]) {
    const res = await fetch(`${proxy.url}${path}`, { headers: proxy.auth });
    assert.equal(res.status, 404, path);
    assert.deepEqual(await res.json(), { error: `${path} is not an Ollama endpoint` });
    const anonymous = await fetch(`${proxy.url}${path}`);
    assert.equal(anonymous.status, 401, path);
    await anonymous.arrayBuffer();
  }
  const v1 = await fetch(`${proxy.url}/v1/files`, { headers: proxy.auth });
  assert.equal(v1.status, 404);
  assert.deepEqual(await v1.json(), {
    error: { message: "/v1/files is not an Ollama endpoint", type: "not_found_error", code: "not_found" },
  });
  // A query string does not change the path.
  assert.equal((await fetch(`${proxy.url}/api/tags?x=1`, { headers: proxy.auth })).status, 200);
  assert.deepEqual(backend.work(), []);
});

test("wrong method: 405 naming it, with Allow", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  const cases: [string, string, string, boolean][] = [
    ["GET", "/api/generate", "POST", true],
    ["PUT", "/api/chat", "POST", true],
    ["POST", "/api/tags", "GET, HEAD", true],
    ["POST", "/api/delete", "DELETE", true],
    ["DELETE", "/", "GET, HEAD", false],
    ["POST", "/api/version", "GET, HEAD", false],
    ["POST", "/health", "GET, HEAD", false],
    ["GET", "/v1/chat/completions", "POST", true],
  ];
  for (const [method, path, allow, needsToken] of cases) {
    const res = await fetch(`${proxy.url}${path}`, { method, headers: proxy.auth });
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
    const body = await res.json();
    const message = `method ${method} is not allowed on ${path}`;
    assert.deepEqual(
      body,
      path.startsWith("/v1/")
        ? { error: { message, type: "invalid_request_error", code: "method_not_allowed" } }
        : { error: message },
    );
    if (needsToken) {
      assert.equal(
        (await fetch(`${proxy.url}${path}`, { method })).status,
        401,
        `${method} ${path} anonymous`,
      );
    }
  }
  assert.deepEqual(backend.work(), []);
});
