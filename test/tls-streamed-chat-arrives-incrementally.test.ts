import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { request } from "node:https";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { makeTlsPair } from "./fixtures/tls-pair.js";
import { startProxy, tempDir, waitFor } from "./helpers.js";

// Over HTTPS a streamed chat still reaches the client chunk by chunk, as the backend sends
// it: a backend that stalls after three chunks proves nothing waits for the end (a
// listener that buffered, or a TLS record held back, would deliver nothing).

test("a streamed chat over HTTPS arrives chunk by chunk, before the stream ends", async (t) => {
  const backend = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "llama3:latest" }],
    behaviour: { chunks: 50, stallAfterChunks: 3 },
  });
  t.after(() => backend.close());
  const pair = makeTlsPair(tempDir(t));
  const proxy = await startProxy(t, [backend], { extra: { tls: { cert: pair.cert, key: pair.key } } });

  const req = request(`${proxy.url}/api/chat`, {
    method: "POST",
    ca: readFileSync(pair.cert),
    headers: { ...proxy.auth, "content-type": "application/json" },
  });
  req.on("error", () => {});
  req.end(JSON.stringify({ model: "llama3", messages: [{ role: "user", content: "hi" }] }));
  t.after(() => req.destroy());
  const [res] = (await once(req, "response")) as [IncomingMessage];
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers["content-type"], "application/x-ndjson");
  const lines: string[] = [];
  let ended = false;
  let partial = "";
  res.on("data", (c: Buffer) => {
    const parts = (partial + c.toString()).split("\n");
    partial = parts.pop()!;
    lines.push(...parts.filter((l) => l !== ""));
  });
  res.on("end", () => {
    ended = true;
  });
  res.on("error", () => {});
  await waitFor("three chunks over TLS before the end", () => lines.length === 3);
  assert.equal(ended, false);
  for (const [i, line] of lines.entries())
    assert.equal((JSON.parse(line) as { message: { content: string } }).message.content, `w${i} `);
});
