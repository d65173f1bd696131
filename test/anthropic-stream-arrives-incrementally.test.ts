import assert from "node:assert/strict";
import { test } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { waitFor } from "./helpers.js";

// An Anthropic stream is relayed event by event: what the backend has sent is with the client
// while the backend is still generating (never held until the answer is complete), and a client
// that stops reading ends the backend's generation.

test("a stream reaches the client as the backend sends it, not at its end", async (t) => {
  const backend = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "qwen3-coder:latest" }],
    behaviour: { chunks: 3, stallAfterChunks: 1 },
  });
  t.after(() => backend.close());
  const p = await startLoggedProxy(t, [backend]);
  const client = new Anthropic({ baseURL: p.url, authToken: p.userToken, maxRetries: 0 });
  const stream = client.messages.stream({
    model: "qwen3-coder",
    max_tokens: 64,
    messages: [{ role: "user", content: "hi" }],
  });
  const ended = stream.done().then(
    () => null,
    (err: Error) => err,
  );
  // The backend sent its first word and went silent: the word is already here.
  const first = await new Promise<string>((resolve) => stream.on("text", (text) => resolve(text)));
  assert.equal(first, "w0 ");
  assert.equal(backend.inProgress(), 1, "the backend is still generating");
  stream.abort();
  assert.equal((await ended)?.name, "APIUserAbortError");
  await waitFor("the backend's generation to be aborted", () => backend.inProgress() === 0);
  assert.equal(backend.aborted(), 1);
});
