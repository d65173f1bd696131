import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic, { InternalServerError } from "@anthropic-ai/sdk";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// /v1/messages is scheduled like any inference (SPEC §10): with `parallel: 1` a second request
// waits in the proxy for the slot (Server-Timing says how long), and one more than
// scheduler.max_queue is refused at once with Anthropic's overloaded_error, a 503 the SDK
// raises as its server error.

test("requests for /v1/messages wait for a free slot, and a full queue is an overloaded_error", async (t) => {
  const gpu = await startFakeOllama({
    name: "gpu",
    models: [{ name: "qwen3-coder:latest", loaded: true }],
    behaviour: { headerDelayMs: 1500 },
  });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], {
    extra: {
      servers: { gpu: { host: "127.0.0.1", port: gpu.port, priority: 1, parallel: 1 } },
      scheduler: { max_queue: 1 },
    },
  });
  const client = new Anthropic({ baseURL: p.url, authToken: p.userToken, maxRetries: 0 });
  const ask = () =>
    client.messages
      .create({ model: "qwen3-coder", max_tokens: 16, messages: [{ role: "user", content: "hi" }] })
      .withResponse();

  const first = ask();
  await waitFor("the first request to hold the slot", () => gpu.inProgress() === 1);
  const second = ask();
  await waitFor("the second request to wait in the proxy", async () => {
    const h = (await (await fetch(`${p.url}/health`)).json()) as { queue?: { waiting: number } };
    return h.queue?.waiting === 1;
  });
  const third = await ask().then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(third instanceof InternalServerError, `the third was refused with ${String(third)}`);
  assert.equal(third.status, 503);
  assert.equal(third.type, "overloaded_error");

  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.data.type, "message");
  assert.equal(b.data.type, "message");
  const waited = Number(/^queue;dur=(\d+)$/.exec(b.response.headers.get("server-timing") ?? "")?.[1]);
  assert.ok(waited > 0, `the second waited ${waited} ms for the slot`);
  assert.equal(
    gpu.work().filter((r) => r.path === "/v1/messages").length,
    2,
    "the refused one never reached the server",
  );
});
