import assert from "node:assert/strict";
import { test } from "node:test";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { post, section, tempDir, waitFor, writeConfig } from "./helpers.js";

// SIGTERM: /health answers 503 at once, new requests are refused, running streams finish
// within limits.shutdown_grace_seconds and the rest are ended, exit 0.

async function setup(t: import("node:test").TestContext, graceSeconds: number, chunks: number) {
  const backend = await startFakeOllama({ name: "gpu", behaviour: { chunks, intervalMs: 50 } });
  t.after(() => backend.close());
  const dir = tempDir(t);
  const { file, config } = writeConfig(
    dir,
    section([backend], { limits: { shutdown_grace_seconds: graceSeconds } }),
  );
  const store = openStore(config.database);
  const token = store.users.create("alice").token;
  store.close();
  const proxy = await spawnProxy(t, file);
  return { backend, proxy, auth: { authorization: `Bearer ${token}` } };
}

test("SIGTERM lets a running stream finish, answers /health 503 and refuses new requests meanwhile, then exits 0", async (t) => {
  const { backend, proxy, auth } = await setup(t, 10, 20);
  const running = post(`${proxy.url}/api/generate`, { model: "llama3", prompt: "x" }, auth);
  await waitFor("the stream to start", () => backend.inProgress() > 0);
  const exited = proxy.stop("SIGTERM");

  await waitFor("/health to say 503", async () => (await fetch(`${proxy.url}/health`)).status === 503);
  const health = (await (await fetch(`${proxy.url}/health`)).json()) as {
    status: string;
    shutting_down: boolean;
  };
  assert.deepEqual([health.status, health.shutting_down], ["down", true]);
  const refused = await post(
    `${proxy.url}/api/generate`,
    { model: "llama3", prompt: "y", stream: false },
    auth,
  );
  assert.equal(refused.status, 503);
  assert.deepEqual(refused.body, { error: "ollama-proxy is shutting down" });

  const stream = await running;
  assert.equal(stream.status, 200);
  assert.equal(stream.text.trim().split("\n").length, 21, "the running stream was not cut");
  assert.equal(await exited, 0);
});

test("SIGTERM ends what is still running when the grace period is over", async (t) => {
  const { backend, proxy, auth } = await setup(t, 0.3, 200);
  const running = fetch(`${proxy.url}/api/generate`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ model: "llama3", prompt: "x" }),
  });
  await waitFor("the stream to start", () => backend.inProgress() > 0);
  const started = Date.now();
  assert.equal(await proxy.stop("SIGTERM"), 0);
  assert.ok(Date.now() - started < 3000, "exit came soon after the grace period");
  const res = await running;
  await assert.rejects(res.text(), "the cut stream errors on the client side instead of hanging");
  await waitFor("the upstream request to be aborted too", () => backend.inProgress() === 0);
});
