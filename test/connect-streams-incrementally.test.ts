import assert from "node:assert/strict";
import { once } from "node:events";
import { type IncomingMessage, request } from "node:http";
import test from "node:test";
import { clientHome, login, startConnect } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy, waitFor } from "./helpers.js";

// Through connect, NDJSON and SSE chunks reach the client as the proxy sends them: the door
// buffers nothing. A backend that stalls after three chunks proves it — a door that waited
// for the end would deliver nothing at all.

const CHAT = { model: "llama3", messages: [{ role: "user", content: "hi" }] };

/** A streamed POST: the lines received so far, and whether the answer has ended. */
async function streamed(url: string, body: unknown, headers: Record<string, string> = {}) {
  const req = request(url, { method: "POST", headers: { "content-type": "application/json", ...headers } });
  req.on("error", () => {});
  req.end(JSON.stringify(body));
  const [res] = (await once(req, "response")) as [IncomingMessage];
  const state = { status: res.statusCode, lines: [] as string[], ended: false, req };
  let partial = "";
  res.on("data", (c: Buffer) => {
    const parts = (partial + c.toString()).split("\n");
    partial = parts.pop()!;
    state.lines.push(...parts.filter((l) => l !== ""));
  });
  res.on("end", () => {
    state.ended = true;
  });
  res.on("error", () => {});
  return state;
}

test("connect carries NDJSON and SSE chunks as they come, before the stream ends", async (t) => {
  clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1", behaviour: { chunks: 50, stallAfterChunks: 3 } });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);
  const door = await startConnect(t);

  for (const [path, body, chunk] of [
    ["/api/chat", CHAT, /^\{"model":"llama3:latest".*"content":"w\d "/],
    ["/v1/chat/completions", { ...CHAT, stream: true }, /^data: \{"id":"chatcmpl-42"/],
  ] as const) {
    // Whatever Authorization the client sends is replaced by the stored token.
    const s = await streamed(`${door.url}${path}`, body, { authorization: "Bearer olp_someone-else" });
    assert.equal(s.status, 200, path);
    await waitFor(`three chunks of ${path} before the end`, () => s.lines.length === 3);
    assert.equal(s.ended, false);
    for (const line of s.lines) assert.match(line, chunk);
    s.req.destroy();
  }
});

test("a streamed answer through connect is byte for byte the proxy's", async (t) => {
  clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1", behaviour: { chunks: 5, intervalMs: 20 } });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);
  const door = await startConnect(t);

  for (const [path, body] of [
    ["/api/chat", CHAT],
    ["/api/generate", { model: "llama3", prompt: "hi" }],
    ["/v1/chat/completions", { ...CHAT, stream: true, stream_options: { include_usage: true } }],
  ] as const) {
    const direct = await post(`${proxy.url}${path}`, body, proxy.auth);
    const through = await post(`${door.url}${path}`, body);
    assert.equal(through.status, 200, path);
    assert.equal(through.text, direct.text, path);
    assert.equal(through.headers.get("content-type"), direct.headers.get("content-type"));
    assert.equal(through.headers.get("x-ollama-proxy-server"), "gpu1");
    assert.ok(through.headers.get("x-request-id"));
  }
});
