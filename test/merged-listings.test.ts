import assert from "node:assert/strict";
import { test } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// /api/tags, /api/ps and /v1/models answer for the whole fleet from what the pollers saw;
// /api/version answers the lowest version any live backend runs.

test("listings merge every enabled, live server; disabled and down servers are not listed", async (t) => {
  const a = await startFakeOllama({
    name: "a",
    version: "0.12.3",
    models: [{ name: "llama3:latest", loaded: true }, { name: "qwen3:8b" }],
  });
  const b = await startFakeOllama({
    name: "b",
    version: "0.11.10",
    models: [{ name: "llama3:latest", loaded: true }, { name: "phi4:latest" }],
  });
  const off = await startFakeOllama({
    name: "off",
    version: "0.1.0",
    models: [{ name: "secret:latest", loaded: true }],
  });
  t.after(() => Promise.all([a.close(), b.close(), off.close()]));
  const p = await startProxy(t, [a, b, off], {
    extra: {
      servers: {
        a: { host: "127.0.0.1", port: a.port, priority: 1 },
        b: { host: "127.0.0.1", port: b.port, priority: 2 },
        off: { host: "127.0.0.1", port: off.port, enabled: false },
      },
      external_hosts: {
        openai: { host: "127.0.0.1", port: 9, protocol: "http", api_key_env: "TEST_OPENAI_KEY" },
      },
      model_config: { explicit_assignments: { "gpt-4o": "openai" } },
    },
    environ: { TEST_OPENAI_KEY: "sk-test" },
  });
  const ollama = new Ollama({ host: p.url, headers: p.auth });

  const tags = await ollama.list();
  const byName = new Map(tags.models.map((m) => [m.name, m as typeof m & { servers: string[] }]));
  assert.deepEqual([...byName.keys()].sort(), ["gpt-4o", "llama3:latest", "phi4:latest", "qwen3:8b"]);
  assert.deepEqual(byName.get("llama3:latest")?.servers, ["a", "b"]);
  assert.deepEqual(byName.get("phi4:latest")?.servers, ["b"]);
  assert.deepEqual(byName.get("gpt-4o")?.servers, ["openai"]);
  assert.equal(off.work().length, 0);
  assert.equal(off.received.length, 0, "a disabled server is not even polled");

  const ps = await ollama.ps();
  assert.deepEqual(
    ps.models.map((m) => [m.name, (m as typeof m & { servers: string[] }).servers]),
    [["llama3:latest", ["a", "b"]]],
  );

  assert.equal((await ollama.version()).version, "0.11.10");

  const openai = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: p.userToken, maxRetries: 0 });
  const models = await openai.models.list();
  assert.deepEqual(models.data.map((m) => m.id).sort(), [
    "gpt-4o",
    "llama3:latest",
    "phi4:latest",
    "qwen3:8b",
  ]);

  // b goes down: its only model leaves the listing, the version is a's.
  await b.kill();
  await waitFor("b down", () => p.server.fleet.servers().find((s) => s.key === "b")?.health === "down");
  const after = await ollama.list();
  assert.deepEqual(after.models.map((m) => m.name).sort(), ["gpt-4o", "llama3:latest", "qwen3:8b"]);
  assert.equal((await ollama.version()).version, "0.12.3");
});

test("/api/version is the proxy's own when no backend answers", async (t) => {
  const a = await startFakeOllama({ name: "a" });
  await a.kill();
  const p = await startProxy(t, [a]);
  const res = await fetch(`${p.url}/api/version`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { version: string };
  const { VERSION } = await import("../lib/version.js");
  assert.equal(body.version, VERSION);
});

test("listings need a token", async (t) => {
  const a = await startFakeOllama({ name: "a" });
  t.after(() => a.close());
  const p = await startProxy(t, [a]);
  for (const path of ["/api/tags", "/api/ps", "/v1/models"]) {
    const res = await fetch(`${p.url}${path}`);
    assert.equal(res.status, 401, path);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
  }
});
