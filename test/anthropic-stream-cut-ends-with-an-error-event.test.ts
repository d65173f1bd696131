import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic, { APIError } from "@anthropic-ai/sdk";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { waitFor } from "./helpers.js";

// A backend that dies after the client had its headers cannot be retried: an Anthropic stream
// then ends the way Anthropic's own end on a failure — `event: error` with its error body —
// which the SDK raises, after the text that did arrive.

const DIES = { chunks: 5, dieAfterChunks: 2, intervalMs: 20 };
const body = {
  model: "qwen3-coder",
  max_tokens: 64,
  stream: true,
  messages: [{ role: "user", content: "hi" }],
};

test("a stream cut mid-way ends with Anthropic's error event, which the SDK raises", async (t) => {
  const gpu = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "qwen3-coder:latest" }],
    behaviour: DIES,
  });
  t.after(() => gpu.close());
  const p = await startLoggedProxy(t, [gpu]);

  const res = await fetch(`${p.url}/v1/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${p.userToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(res.status, 200);
  const events = (await res.text()).trimEnd().split("\n\n");
  assert.match(events[0]!, /^event: message_start\n/);
  assert.equal(
    events.at(-1),
    `event: error\ndata: ${JSON.stringify({
      type: "error",
      error: { type: "api_error", message: "gpu1 stopped mid-response (connection lost)" },
    })}`,
  );

  // The lost connection marked gpu1 down; its pollers bring it back.
  await waitFor("gpu1 up again", () => p.server.fleet.servers()[0]?.health === "up");
  const client = new Anthropic({ baseURL: p.url, authToken: p.userToken, maxRetries: 0 });
  const stream = client.messages.stream({
    model: "qwen3-coder",
    max_tokens: 64,
    messages: [{ role: "user", content: "hi" }],
  });
  let text = "";
  stream.on("text", (t) => {
    text += t;
  });
  const err = await stream.done().then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof APIError, `the SDK raised ${String(err)}`);
  assert.equal(err.type, "api_error");
  assert.equal(err.apiMessage, "gpu1 stopped mid-response (connection lost)");
  assert.equal(text, "w0 w1 ");

  const rows = await p.waitForRows(2);
  assert.deepEqual(
    rows.map((r) => [r.status, r.error_code]),
    [
      [200, "upstream_stream_error"],
      [200, "upstream_stream_error"],
    ],
  );
});
