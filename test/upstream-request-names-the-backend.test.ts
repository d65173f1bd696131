import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { Ollama } from "ollama";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// The request a backend gets is addressed to it: Host names the backend (a backend behind a
// name-based virtual host needs that), the client's Host travels as X-Forwarded-Host, and the
// path and query go as the client sent them. An IPv6 backend is reached by its address.

test("the backend gets its own Host, the client's as X-Forwarded-Host, the path and query unchanged", async (t) => {
  const backend = await startFakeOllama({ name: "gpu" });
  t.after(() => backend.close());
  const p = await startProxy(t, [backend]);
  // fetch will not send a Host of the caller's choosing; node:http will, as a reverse proxy would.
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${p.url}/api/generate?keep=1`, {
      method: "POST",
      headers: { ...p.auth, host: "ollama.example.org", "content-type": "application/json" },
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(JSON.stringify({ model: "llama3", prompt: "x", stream: false }));
  });
  assert.equal(status, 200);
  const seen = backend.work()[0]!;
  assert.equal(seen.method, "POST");
  assert.equal(seen.headers.host, `127.0.0.1:${backend.port}`);
  assert.equal(seen.headers["x-forwarded-host"], "ollama.example.org");
  assert.equal(seen.url, "/api/generate?keep=1");
});

test("a backend configured by its IPv6 address is reached, streaming and not", async (t) => {
  const backend = await startFakeOllama({ name: "gpu6", host: "::1" });
  t.after(() => backend.close());
  const p = await startProxy(t, [], {
    extra: {
      servers: {
        gpu6: {
          host: "::1",
          port: backend.port,
          name: "gpu6",
          priority: 1,
          max_memory_gb: null,
          enabled: true,
        },
      },
    },
  });
  const ollama = new Ollama({ host: p.url, headers: p.auth });
  const one = await ollama.generate({ model: "llama3", prompt: "x", stream: false });
  assert.equal(typeof one.response, "string");
  let chunks = 0;
  for await (const part of await ollama.generate({ model: "llama3", prompt: "x", stream: true })) {
    chunks++;
    if (part.done) assert.ok(part.eval_count !== undefined);
  }
  assert.ok(chunks > 1);
  assert.equal(backend.work().length, 2);
  assert.equal(backend.work()[0]!.headers.host, `[::1]:${backend.port}`);
});
