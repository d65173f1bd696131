import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { waitFor } from "./helpers.js";

// A client that disconnects mid-stream: the upstream request is aborted within 100 ms, the
// in-flight count goes back down, and the request log says "client aborted" — the backend is
// not blamed (not marked down, no upstream error).

test("a client leaving mid-stream aborts the upstream within 100 ms and is logged as a client abort", async (t) => {
  const backend = await startFakeOllama({ name: "gpu", behaviour: { chunks: 200, intervalMs: 20 } });
  t.after(() => backend.close());
  const p = await startLoggedProxy(t, [backend]);
  const server = p.server.fleet.servers()[0]!;

  const gone = await new Promise<number>((resolve, reject) => {
    const req = request(`${p.url}/api/generate`, { method: "POST", headers: p.auth });
    req.on("response", (res) => {
      let chunks = 0;
      res.on("data", () => {
        if (++chunks === 3) {
          req.destroy();
          resolve(performance.now());
        }
      });
    });
    req.on("error", () => {});
    req.on("close", () => {});
    req.end(JSON.stringify({ model: "llama3", prompt: "long" }));
    setTimeout(() => reject(new Error("no chunks")), 5000).unref();
  });
  await waitFor("the backend to see its request aborted", () => backend.aborted() === 1, 2000);
  const tookMs = performance.now() - gone;
  assert.ok(tookMs < 100, `upstream aborted ${tookMs.toFixed(1)} ms after the client left`);
  assert.equal(backend.inProgress(), 0);
  assert.equal(server.inFlight, 0);
  assert.equal(server.health, "up", "a client leaving is not the backend's fault");

  const [row] = await p.waitForRows(1);
  assert.equal(row?.client_aborted, 1);
  assert.equal(row?.error_code, null);
  assert.equal(row?.server, "gpu");
});
