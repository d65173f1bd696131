import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// A client's token is for the proxy. It, the client's cookies and proxy credentials, and
// every hop-by-hop header (RFC 9110 §7.6.1, including those the client names in
// Connection) stop at the proxy.

function send(url: string, headers: Record<string, string>, body: string) {
  return new Promise<number>((resolve, reject) => {
    const req = request(url, { method: "POST", headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("credentials and hop-by-hop headers are dropped; end-to-end headers pass", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  const status = await send(
    `${proxy.url}/api/generate`,
    {
      authorization: `Bearer ${proxy.userToken}`,
      cookie: `session=${proxy.userToken}; theme=dark`,
      "proxy-authorization": "Basic c2VjcmV0OnNlY3JldA==",
      connection: "keep-alive, X-Foo, x-bar",
      "x-foo": "hop secret",
      "x-bar": "another hop",
      "keep-alive": "timeout=5",
      "proxy-connection": "keep-alive",
      te: "trailers",
      "x-ollama-proxy-server": "gpu1",
      "x-forwarded-for": "6.6.6.6",
      "content-type": "application/json",
      "user-agent": "custom-agent/1.0",
      "x-custom": "end-to-end",
      accept: "application/x-ndjson",
    },
    '{"model":"llama3","prompt":"hi"}',
  );
  assert.equal(status, 200);

  const got = backend.work()[0]!;
  for (const name of [
    "authorization",
    "cookie",
    "proxy-authorization",
    "x-foo",
    "x-bar",
    "keep-alive",
    "proxy-connection",
    "te",
    "x-ollama-proxy-server",
  ]) {
    assert.equal(got.headers[name], undefined, `${name} reached the backend`);
  }
  assert.notEqual(got.headers.connection?.toLowerCase().includes("x-foo"), true);
  assert.equal(got.headers["content-type"], "application/json");
  assert.equal(got.headers["user-agent"], "custom-agent/1.0");
  assert.equal(got.headers["x-custom"], "end-to-end");
  assert.equal(got.headers.accept, "application/x-ndjson");
  assert.equal(
    got.headers["x-forwarded-for"],
    "127.0.0.1",
    "an untrusted client's X-Forwarded-For is replaced",
  );
  assertNoToken(backend.received, [proxy.userToken]);
});

test("no token reaches the backend from the official clients, on any endpoint", async (t) => {
  const backend = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "llama3:latest", loaded: true }, { name: "nomic-embed-text:latest" }],
  });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  const ollama = new Ollama({ host: proxy.url, headers: proxy.auth });
  await ollama.generate({ model: "llama3", prompt: "hi", stream: false });
  for await (const _ of await ollama.chat({
    model: "llama3",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
  })) {
    // drain
  }
  await ollama.embed({ model: "nomic-embed-text", input: "x" });
  await ollama.show({ model: "llama3" });
  const admin = new Ollama({ host: proxy.url, headers: { authorization: `Bearer ${proxy.adminToken}` } });
  await admin.pull({ model: "phi4", stream: false });
  await admin.copy({ source: "llama3", destination: "mine" });
  await admin.delete({ model: "mine" });

  const openai = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: proxy.userToken, maxRetries: 0 });
  await openai.chat.completions.create({ model: "llama3", messages: [{ role: "user", content: "hi" }] });
  const stream = await openai.chat.completions.create({
    model: "llama3",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
  });
  for await (const _ of stream) {
    // drain
  }
  await openai.embeddings.create({ model: "nomic-embed-text", input: "x" });

  assert.ok(backend.work().length >= 9, `${backend.work().length} requests forwarded`);
  assertNoToken(backend.received, [proxy.userToken, proxy.adminToken]);
});

/** No header of any request the backend saw (polls included) carries a token, in any form. */
function assertNoToken(
  received: readonly { path: string; headers: Record<string, unknown> }[],
  tokens: string[],
) {
  for (const r of received) {
    assert.equal(r.headers.authorization, undefined, `authorization on ${r.path}`);
    const all = JSON.stringify(r.headers);
    for (const token of tokens) {
      assert.ok(!all.includes(token), `a token reached the backend on ${r.path}`);
      assert.ok(!all.includes(token.slice(4)), `a token's secret part reached the backend on ${r.path}`);
    }
  }
}
