import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy, waitFor } from "./helpers.js";

// Each rule of SPEC §6, with two or three fake servers differing in models, sizes, load,
// priority and limits. The answer's X-Ollama-Proxy-Server says who served.

const GB = 1_000_000_000;

async function servedBy(url: string, auth: Record<string, string>, model: string): Promise<string | null> {
  const r = await post(`${url}/api/generate`, { model, prompt: "x", stream: false }, auth);
  assert.equal(r.status, 200, r.text);
  return r.headers.get("x-ollama-proxy-server");
}

test("priority: the lower number wins when both servers have the model", async (t) => {
  const a = await startFakeOllama({ name: "a", models: [{ name: "llama3:latest" }] });
  const b = await startFakeOllama({ name: "b", models: [{ name: "llama3:latest" }] });
  t.after(() => Promise.all([a.close(), b.close()]));
  // b is listed first but has priority 1.
  const p = await startProxy(t, [b, a], {
    extra: {
      servers: {
        a: { host: "127.0.0.1", port: a.port, priority: 2 },
        b: { host: "127.0.0.1", port: b.port, priority: 1 },
      },
    },
  });
  for (let i = 0; i < 3; i++) assert.equal(await servedBy(p.url, p.auth, "llama3"), "b");
});

test("memory: a server whose max_memory_gb is below the model's /api/tags size is skipped", async (t) => {
  const small = await startFakeOllama({ name: "small", models: [{ name: "big:70b", size: 40 * GB }] });
  const large = await startFakeOllama({ name: "large", models: [{ name: "big:70b", size: 40 * GB }] });
  t.after(() => Promise.all([small.close(), large.close()]));
  const p = await startProxy(t, [small, large], {
    extra: {
      servers: {
        small: { host: "127.0.0.1", port: small.port, priority: 1, max_memory_gb: 8 },
        large: { host: "127.0.0.1", port: large.port, priority: 2, max_memory_gb: null },
      },
    },
  });
  assert.equal(await servedBy(p.url, p.auth, "big:70b"), "large");
});

test("memory: overrides, then the first matching pattern, then the default decide for unknown sizes", async (t) => {
  const small = await startFakeOllama({ name: "small", models: [] });
  const large = await startFakeOllama({ name: "large", models: [] });
  t.after(() => Promise.all([small.close(), large.close()]));
  const p = await startProxy(t, [small, large], {
    extra: {
      servers: {
        small: { host: "127.0.0.1", port: small.port, priority: 1, max_memory_gb: 8 },
        large: { host: "127.0.0.1", port: large.port, priority: 2, max_memory_gb: null },
      },
      model_config: {
        memory_overrides: { "custom-model-70b": 40 },
        memory_patterns: [
          { pattern: ".*-70b.*", memory_gb: 40 },
          { pattern: ".*-7b.*", memory_gb: 4.5 },
          { pattern: ".*", memory_gb: 100 },
        ],
        default_memory_gb: 2,
      },
    },
  });
  const table = p.server.fleet.table();
  assert.deepEqual(table.memoryNeed("custom-model-70b:latest"), {
    gb: 40,
    from: "model_config.memory_overrides",
  });
  assert.equal(table.memoryNeed("mistral-7b:latest").gb, 4.5);
  assert.equal(table.memoryNeed("llama-70b-instruct:latest").gb, 40);
  // Neither server has these models: the fitting servers get them (Ollama answers 404 itself).
  const route = (m: string) => {
    const r = table.route(m);
    return r.kind === "ollama" ? r.tiers.flat().map((s) => s.key) : r.kind;
  };
  assert.deepEqual(route("mistral-7b"), ["small", "large"]);
  assert.deepEqual(route("custom-model-70b"), ["large"]);
  assert.deepEqual(route("llama-70b-instruct"), ["large"]);
  const missing = await post(`${p.url}/api/generate`, { model: "mistral-7b", prompt: "x" }, p.auth);
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("x-ollama-proxy-server"), "small");
  assert.match((missing.body as { error: string }).error, /not found/);
});

test("memory: a model no usable server can hold is refused with 503 and says why", async (t) => {
  const small = await startFakeOllama({ name: "small", models: [] });
  t.after(() => small.close());
  const p = await startProxy(t, [small], {
    extra: {
      servers: { small: { host: "127.0.0.1", port: small.port, max_memory_gb: 8 } },
      model_config: { memory_patterns: [{ pattern: ".*:70b", memory_gb: 40 }] },
    },
  });
  const r = await post(`${p.url}/api/chat`, { model: "llama3:70b", messages: [] }, p.auth);
  assert.equal(r.status, 503);
  assert.match((r.body as { error: string }).error, /needs about 40 GB/);
  assert.equal(small.work().length, 0);
});

test("having the model beats priority: a server without it is used only when nobody has it", async (t) => {
  const a = await startFakeOllama({ name: "a", models: [{ name: "llama3:latest" }] });
  const b = await startFakeOllama({ name: "b", models: [{ name: "qwen3:8b" }] });
  t.after(() => Promise.all([a.close(), b.close()]));
  const p = await startProxy(t, [a, b]);
  assert.equal(await servedBy(p.url, p.auth, "qwen3:8b"), "b");
  assert.equal(await servedBy(p.url, p.auth, "llama3"), "a");
});

test("among equal priorities the server that has the model loaded goes first", async (t) => {
  const cold = await startFakeOllama({ name: "cold", models: [{ name: "llama3:latest", loaded: false }] });
  const warm = await startFakeOllama({ name: "warm", models: [{ name: "llama3:latest", loaded: true }] });
  t.after(() => Promise.all([cold.close(), warm.close()]));
  const p = await startProxy(t, [cold, warm], {
    extra: {
      servers: {
        cold: { host: "127.0.0.1", port: cold.port, priority: 1 },
        warm: { host: "127.0.0.1", port: warm.port, priority: 1 },
      },
    },
  });
  for (let i = 0; i < 3; i++) assert.equal(await servedBy(p.url, p.auth, "llama3"), "warm");
  // The load moves: once /api/ps says cold has it and warm does not, cold is preferred.
  cold.models[0]!.loaded = true;
  warm.models[0]!.loaded = false;
  await waitFor(
    "the pollers to see the model move",
    async () => (await servedBy(p.url, p.auth, "llama3")) === "cold",
  );
});

test("a slow server is used only when no fast one can take the model", async (t) => {
  const slow = await startFakeOllama({
    name: "slow",
    models: [{ name: "llama3:latest" }],
    behaviour: { versionDelayMs: 700 },
  });
  const fast = await startFakeOllama({ name: "fast", models: [{ name: "llama3:latest" }] });
  t.after(() => Promise.all([slow.close(), fast.close()]));
  const p = await startProxy(t, [slow, fast], {
    extra: {
      servers: {
        slow: { host: "127.0.0.1", port: slow.port, priority: 1 },
        fast: { host: "127.0.0.1", port: fast.port, priority: 2 },
      },
      health: { interval_seconds: 0.2, timeout_ms: 2000, slow_threshold_ms: 350 },
    },
  });
  assert.equal(await servedBy(p.url, p.auth, "llama3"), "fast");
  await fast.kill();
  await waitFor(
    "the fast server to be marked down",
    () => p.server.fleet.servers().find((s) => s.key === "fast")?.health === "down",
  );
  assert.equal(await servedBy(p.url, p.auth, "llama3"), "slow");
});

test("explicit assignment wins over everything, and a down target is a 503, not a silent fallback", async (t) => {
  const a = await startFakeOllama({ name: "a", models: [{ name: "llama3:latest" }] });
  const b = await startFakeOllama({ name: "b", models: [{ name: "llama3:latest" }] });
  t.after(() => Promise.all([a.close(), b.close()]));
  const p = await startProxy(t, [a, b], {
    extra: { model_config: { explicit_assignments: { llama3: "b" } } },
  });
  assert.equal(await servedBy(p.url, p.auth, "llama3:latest"), "b");
  await b.kill();
  await waitFor(
    "b to be marked down",
    () => p.server.fleet.servers().find((s) => s.key === "b")?.health === "down",
  );
  const before = a.work().length;
  const r = await post(`${p.url}/api/generate`, { model: "llama3", prompt: "x" }, p.auth);
  assert.equal(r.status, 503);
  assert.match((r.body as { error: string }).error, /assigned to server "b", which is down/);
  assert.equal(a.work().length, before);
});

test("equal servers share concurrent streams by requests in flight", async (t) => {
  const behaviour = { chunks: 20, intervalMs: 20 };
  const a = await startFakeOllama({ name: "a", models: [{ name: "llama3:latest" }], behaviour });
  const b = await startFakeOllama({ name: "b", models: [{ name: "llama3:latest" }], behaviour });
  t.after(() => Promise.all([a.close(), b.close()]));
  const p = await startProxy(t, [a, b], {
    extra: {
      servers: {
        a: { host: "127.0.0.1", port: a.port, priority: 1 },
        b: { host: "127.0.0.1", port: b.port, priority: 1 },
      },
    },
  });
  const streams = Array.from({ length: 10 }, () =>
    post(`${p.url}/api/generate`, { model: "llama3", prompt: "x" }, p.auth),
  );
  const results = await Promise.all(streams);
  const counts = { a: 0, b: 0 } as Record<string, number>;
  for (const r of results) {
    assert.equal(r.status, 200);
    counts[r.headers.get("x-ollama-proxy-server") ?? "?"]!++;
  }
  assert.deepEqual(counts, { a: 5, b: 5 });
  for (const s of p.server.fleet.servers()) assert.equal(s.inFlight, 0);
});
