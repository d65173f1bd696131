import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// Request headers over limits.max_header_kb: 431 with a JSON error, the connection closed,
// the proxy still up.

test("headers larger than max_header_kb get 431", async (t) => {
  const backend = await startFakeOllama({ name: "gpu" });
  t.after(() => backend.close());
  const p = await startProxy(t, [backend], { extra: { limits: { max_header_kb: 8 } } });
  const res = await new Promise<{ status: number; body: string; headers: Record<string, unknown> }>(
    (resolve, reject) => {
      const req = request(`${p.url}/api/tags`, {
        headers: { ...p.auth, "x-padding": "a".repeat(16 * 1024) },
      });
      req.on("response", (r) => {
        let body = "";
        r.on("data", (c: Buffer) => {
          body += c.toString();
        });
        r.on("end", () => resolve({ status: r.statusCode ?? 0, body, headers: r.headers }));
      });
      req.on("error", reject);
      req.end();
    },
  );
  assert.equal(res.status, 431);
  assert.deepEqual(JSON.parse(res.body), { error: "request headers too large" });
  assert.equal(res.headers["x-content-type-options"], "nosniff");
  assert.equal((await fetch(`${p.url}/api/tags`, { headers: p.auth })).status, 200);
  assert.equal(backend.work().length, 0);
});
