import assert from "node:assert/strict";
import { test } from "node:test";
import { startGpuOllama } from "./fixtures/gpu-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { addUser, post, runCli, section, tempDir, waitFor, writeConfig } from "./helpers.js";

// `ollama-proxy route MODEL` also asks the running proxy (found through its runtime file) how
// many requests for MODEL wait in its queue.

test("route says how many requests for the model wait in the running proxy", async (t) => {
  const gpu = await startGpuOllama({
    models: ["llama3"],
    loaded: ["llama3"],
    limits: { numParallel: 1, maxLoadedModels: 1, loadMs: 10, serviceMs: 1500, maxQueue: 512 },
  });
  t.after(() => gpu.close());
  const dir = tempDir(t);
  const { file, config } = writeConfig(
    dir,
    section([gpu], { servers: { gpu: { host: "127.0.0.1", port: gpu.port, parallel: 1 } } }),
  );
  const auth = addUser(config.database);
  const proxy = await spawnProxy(t, file);
  const generate = () =>
    post(`${proxy.url}/api/generate`, { model: "llama3", prompt: "x", stream: false }, auth);
  const running = [generate(), generate(), generate()];
  await waitFor("two requests to wait", async () => {
    const h = (await (await fetch(`${proxy.url}/health`)).json()) as { queue?: { waiting: number } };
    return h.queue?.waiting === 2;
  });

  const text = await runCli(["route", "llama3", "--config", file, "--env", "test"]);
  assert.equal(text.code, 0, text.err);
  assert.match(
    text.out,
    /\n {2}2 requests for llama3:latest wait in the running proxy \(2 in all, the oldest for \d+(\.\d)? s\)$/,
  );
  const json = JSON.parse(
    (await runCli(["route", "llama3", "--json", "--config", file, "--env", "test"])).out,
  ) as {
    waiting: number | null;
  };
  assert.ok(json.waiting === 2 || json.waiting === 1, `waiting ${json.waiting}`);
  for (const r of await Promise.all(running)) assert.equal(r.status, 200);
});
