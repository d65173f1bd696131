import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// An admin names the server a management call goes to with X-Ollama-Proxy-Server. A name
// that is no server is a 400 saying so; for inference the header means nothing.

test("an unknown server name is a 400; a known one is where the call goes", async (t) => {
  const gpu1 = await startFakeOllama({ name: "gpu1" });
  const gpu2 = await startFakeOllama({ name: "gpu2" });
  t.after(() => Promise.all([gpu1.close(), gpu2.close()]));
  const proxy = await startProxy(t, [gpu1, gpu2]);
  const admin = { authorization: `Bearer ${proxy.adminToken}` };

  for (const [method, path, body] of [
    ["POST", "/api/pull", '{"model":"phi4","stream":false}'],
    ["POST", "/api/blobs/sha256:00ff", "bytes"],
    ["DELETE", "/api/delete", '{"model":"llama3"}'],
  ] as const) {
    for (const name of ["nope", "GPU1", "gpu1,gpu2"]) {
      const res = await fetch(`${proxy.url}${path}`, {
        method,
        headers: { ...admin, "x-ollama-proxy-server": name },
        body,
      });
      assert.equal(res.status, 400, `${path} ${name}`);
      assert.deepEqual(await res.json(), {
        error: `X-Ollama-Proxy-Server: no enabled server named "${name}"`,
      });
    }
  }
  assert.deepEqual([...gpu1.work(), ...gpu2.work()], []);

  const pulled = await fetch(`${proxy.url}/api/pull`, {
    method: "POST",
    headers: { ...admin, "x-ollama-proxy-server": "gpu2" },
    body: '{"model":"phi4","stream":false}',
  });
  assert.equal(pulled.status, 200);
  assert.equal(pulled.headers.get("x-ollama-proxy-server"), "gpu2");
  assert.deepEqual(
    gpu2.work().map((r) => r.path),
    ["/api/pull"],
  );
  assert.deepEqual(gpu1.work(), []);

  // Inference follows the routing table whatever the header says.
  const gen = await fetch(`${proxy.url}/api/generate`, {
    method: "POST",
    headers: { ...proxy.auth, "x-ollama-proxy-server": "gpu2" },
    body: '{"model":"llama3","prompt":"hi","stream":false}',
  });
  assert.equal(gen.status, 200);
  assert.equal(gen.headers.get("x-ollama-proxy-server"), "gpu1");
});
