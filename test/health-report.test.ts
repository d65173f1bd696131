import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// GET /health (SPEC §5): no token, nothing secret, per-server detail, 200 while anything can serve.

interface Report {
  status: string;
  servers: { name: string; healthy: boolean; latency_ms: number | null; models: number; loaded: string[] }[];
}

test("health reports each server and answers 200 ok, 200 degraded, then 503 down", async (t) => {
  const a = await startFakeOllama({
    name: "a",
    models: [{ name: "llama3:latest", loaded: true }, { name: "phi4:latest" }],
  });
  const b = await startFakeOllama({ name: "b", models: [{ name: "qwen3:8b" }] });
  t.after(() => Promise.all([a.close(), b.close()]));
  const p = await startProxy(t, [a, b], {
    extra: {
      external_hosts: {
        openai: { host: "api.openai.com", api_key_env: "SURELY_UNSET_KEY_FOR_TEST", enabled: false },
      },
    },
  });
  const get = async () => {
    const res = await fetch(`${p.url}/health`);
    return { status: res.status, body: (await res.json()) as Report, text: JSON.stringify(res.headers) };
  };

  const ok = await get();
  assert.equal(ok.status, 200);
  assert.equal(ok.body.status, "ok");
  const sa = ok.body.servers.find((s) => s.name === "a")!;
  assert.equal(sa.healthy, true);
  assert.equal(sa.models, 2);
  assert.deepEqual(sa.loaded, ["llama3:latest"]);
  assert.equal(typeof sa.latency_ms, "number");
  const raw = JSON.stringify(ok.body);
  assert.doesNotMatch(raw, new RegExp(String(a.port)), "no backend address in /health");
  assert.doesNotMatch(raw, /olp_/);

  await b.kill();
  await waitFor("b reported down", async () => (await get()).body.status === "degraded");
  const degraded = await get();
  assert.equal(degraded.status, 200);
  assert.equal(degraded.body.servers.find((s) => s.name === "b")?.healthy, false);

  await a.kill();
  await waitFor("everything down", async () => (await get()).status === 503);
  assert.equal((await get()).body.status, "down");
});
