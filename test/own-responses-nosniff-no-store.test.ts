import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// Every answer the proxy writes itself (not a backend's) is never sniffed and never cached:
// they are errors or live fleet state.

test("responses the proxy produces carry nosniff and no-store", async (t) => {
  const backend = await startFakeOllama({ name: "gpu" });
  t.after(() => backend.close());
  const p = await startProxy(t, [backend]);
  const cases: [string, RequestInit, number][] = [
    ["/", {}, 200],
    ["/health", {}, 200],
    ["/api/version", {}, 200],
    ["/metrics", {}, 404], // no telemetry in this proxy: metrics are not available
    ["/api/tags", { headers: p.auth }, 200],
    ["/api/ps", { headers: p.auth }, 200],
    ["/v1/models", { headers: p.auth }, 200],
    ["/api/tags", {}, 401],
    ["/api/nope", { headers: p.auth }, 404],
    ["/api/generate", { method: "POST", headers: p.auth, body: "{" }, 400],
    ["/api/pull", { method: "POST", headers: p.auth, body: "{}" }, 403],
    ["/api/generate", { method: "GET", headers: p.auth }, 405],
  ];
  for (const [path, init, status] of cases) {
    const res = await fetch(`${p.url}${path}`, init);
    await res.arrayBuffer();
    assert.equal(res.status, status, path);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", `${path} ${status}`);
    assert.equal(res.headers.get("cache-control"), "no-store", `${path} ${status}`);
    assert.ok(res.headers.get("x-request-id"), `${path} has a request id`);
  }
});
