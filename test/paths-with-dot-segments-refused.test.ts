import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { rawExchange } from "./fixtures/raw-client.js";
import { startProxy } from "./helpers.js";

// Paths under a prefix forwarded verbatim (/api/experimental/...) must not reach another
// endpoint through a hop that normalises them: dot segments and hidden separators are
// refused before anything else. Account calls act with the server's ollama.com identity: admins only.

test("dot segments, encoded or not, and hidden separators are refused with 400 and forward nothing", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu" });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { allow_cloud: true } });
  const admin = `authorization: Bearer ${p.adminToken}`;
  for (const path of [
    "/api/experimental/../pull",
    "/api/experimental/%2e%2e/pull",
    "/api/experimental/.%2E/pull",
    "/api/experimental/./web_search",
    "/api/experimental/x%2F..%2Fpull",
    "/api//pull",
  ]) {
    const text = await rawExchange(
      p.server.port,
      `POST ${path} HTTP/1.1\r\nhost: x\r\n${admin}\r\ncontent-length: 17\r\nconnection: close\r\n\r\n{"model":"evil"}\n`,
    );
    assert.match(text, /^HTTP\/1\.1 400 /, path);
    assert.match(text, /"error":"the request path has/, path);
  }
  assert.deepEqual(gpu.work(), []);
  // A model name with an encoded slash is fine where it is answered, not forwarded.
  const info = await fetch(`${p.url}/v1/models/hf.co%2Fuser%2Frepo`, { headers: p.auth });
  assert.equal(info.status, 404);
});

test("/api/me and /api/signout need an admin token, even with allow_cloud", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu" });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { allow_cloud: true } });
  for (const path of ["/api/me", "/api/signout"]) {
    const res = await fetch(`${p.url}${path}`, { method: "POST", headers: p.auth });
    assert.equal(res.status, 403, path);
    assert.match(((await res.json()) as { error: string }).error, /needs an admin token/);
  }
  assert.deepEqual(gpu.work(), []);
});
