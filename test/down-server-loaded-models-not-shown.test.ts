import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// What a down server last had loaded is not loaded for anyone: /api/ps and /health say so.

interface Health {
  servers: { name: string; state: string; loaded: string[] }[];
}

test("a down server's last-known loaded models are in neither /api/ps nor /health", async (t) => {
  const a = await startFakeOllama({ name: "a", models: [{ name: "llama3:latest", loaded: true }] });
  const b = await startFakeOllama({ name: "b", models: [{ name: "qwen3:8b", loaded: true }] });
  t.after(() => Promise.all([a.close(), b.close()]));
  const p = await startProxy(t, [a, b]);
  const ps = async () => {
    const res = await fetch(`${p.url}/api/ps`, { headers: p.auth });
    return ((await res.json()) as { models: { name: string }[] }).models.map((m) => m.name).sort();
  };
  const health = async () => ((await (await fetch(`${p.url}/health`)).json()) as Health).servers;
  assert.deepEqual(await ps(), ["llama3:latest", "qwen3:8b"]);
  assert.deepEqual((await health()).find((s) => s.name === "b")?.loaded, ["qwen3:8b"]);

  await b.kill();
  await waitFor(
    "b marked down",
    () => p.server.fleet.servers().find((s) => s.key === "b")?.health === "down",
  );
  assert.deepEqual(await ps(), ["llama3:latest"]);
  const servers = await health();
  assert.deepEqual(
    servers.map((s) => [s.name, s.state, s.loaded]),
    [
      ["a", "up", ["llama3:latest"]],
      ["b", "down", []],
    ],
  );
});
