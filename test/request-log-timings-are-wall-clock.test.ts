import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";

// The proxy measures what the client lived through: headers after the backend's delay, the
// first token after the headers, the end after the last chunk; its own overhead is small and
// is the same number the client saw in X-Ollama-Proxy-Overhead-Ms.

test("headers, TTFT, duration and overhead follow the backend's pace", async (t) => {
  const backend = await startFakeOllama({
    name: "gpu1",
    behaviour: { headerDelayMs: 120, intervalMs: 60, chunks: 4 },
  });
  t.after(() => backend.close());
  const proxy = await startLoggedProxy(t, [backend]);

  const res = await fetch(`${proxy.url}/api/generate`, {
    method: "POST",
    headers: { ...proxy.auth, "content-type": "application/json" },
    body: JSON.stringify({ model: "llama3", prompt: "hi" }),
  });
  const overheadHeader = Number(res.headers.get("x-ollama-proxy-overhead-ms"));
  const text = await res.text();
  assert.equal(text.trim().split("\n").length, 5);

  const [row] = await proxy.waitForRows(1);
  assert.ok(row);
  const { overhead_ms, headers_ms, ttft_ms, duration_ms } = row;
  assert.ok(overhead_ms !== null && headers_ms !== null && ttft_ms !== null);
  assert.equal(overhead_ms, Math.round(overheadHeader * 100) / 100);
  assert.ok(overhead_ms < 100, `overhead ${overhead_ms} ms`);
  assert.ok(headers_ms >= 115, `headers after ${headers_ms} ms`);
  assert.ok(ttft_ms >= headers_ms, `ttft ${ttft_ms} < headers ${headers_ms}`);
  // Three more chunks 60 ms apart after the first, then the final one.
  assert.ok(duration_ms >= ttft_ms + 3 * 55, `duration ${duration_ms}, ttft ${ttft_ms}`);
  // Ollama's eval_duration (1 s for 4 tokens) wins over the wall clock.
  assert.equal(row.tokens_per_s, 4);
});

test("a request the proxy answers itself has no upstream timings", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startLoggedProxy(t, [backend]);
  const res = await fetch(`${proxy.url}/api/generate`, {
    method: "POST",
    headers: { authorization: "Bearer olp_wrong", "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(res.status, 401);
  assert.match(
    ((await res.json()) as { error: string }).error,
    /^unauthorized: a valid API token is required/,
  );
  const [row] = await proxy.waitForRows(1);
  assert.ok(row);
  assert.deepEqual(
    [row.status, row.user_name, row.server, row.overhead_ms, row.headers_ms, row.ttft_ms, row.error_code],
    [401, null, null, null, null, null, "unauthorized"],
  );
});
