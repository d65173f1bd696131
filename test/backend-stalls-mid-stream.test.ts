import assert from "node:assert/strict";
import { test } from "node:test";
import { Ollama } from "ollama";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy, waitFor } from "./helpers.js";

// A backend that goes silent in the middle of a stream: the inter-chunk idle timeout ends the
// client's stream with an in-band error line and closes the upstream socket.

test("a stream that stalls past the idle timeout ends with an error line and the upstream is closed", async (t) => {
  const backend = await startFakeOllama({ name: "gpu", behaviour: { chunks: 10, stallAfterChunks: 2 } });
  t.after(() => backend.close());
  const p = await startProxy(t, [backend], { extra: { limits: { upstream_idle_timeout_ms: 300 } } });

  const r = await post(
    `${p.url}/api/chat`,
    { model: "llama3", messages: [{ role: "user", content: "x" }] },
    p.auth,
  );
  assert.equal(r.status, 200);
  const lines = r.text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 3);
  assert.match(String(lines[2]?.error), /^upstream server stopped mid-response \(gpu: no data for 0.3 s\)$/);
  await waitFor("the upstream socket to be closed", () => backend.inProgress() === 0);
  assert.equal(backend.aborted(), 1);

  // The ollama client surfaces it as an error, after the chunks that did arrive.
  const ollama = new Ollama({ host: p.url, headers: p.auth });
  let got = "";
  await assert.rejects(async () => {
    for await (const part of await ollama.generate({ model: "llama3", prompt: "x", stream: true }))
      got += part.response;
  }, /upstream server stopped mid-response/);
  assert.equal(got, "w0 w1 ");
});
