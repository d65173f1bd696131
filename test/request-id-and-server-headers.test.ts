import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import OpenAI from "openai";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// X-Request-Id ties a client's request to the proxy's log and the backend's: a sane id
// from the client is kept end to end, anything else is replaced. X-Ollama-Proxy-Server
// says which backend answered.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** node:http, because fetch refuses to send some of the junk ids below. */
function generate(url: string, headers: Record<string, string>) {
  return new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
    const req = request(`${url}/api/generate`, { method: "POST", headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.headers));
    });
    req.on("error", reject);
    req.end('{"model":"llama3","prompt":"hi","stream":false}');
  });
}

test("a sane client id is kept, to the backend and back", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  for (const id of [
    "abc",
    "req-2026-01-01T00:00:00.000Z_42",
    "A.b:C-d_E",
    "x".repeat(128),
    "550e8400-e29b-41d4-a716-446655440000",
  ]) {
    const headers = await generate(proxy.url, { ...proxy.auth, "x-request-id": id });
    assert.equal(headers["x-request-id"], id);
    assert.equal(backend.work().at(-1)!.headers["x-request-id"], id);
  }
});

test("a junk client id is replaced by a fresh UUID, the same one the backend sees", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  const seen = new Set<string>();
  for (const junk of [
    "",
    "has space",
    "x".repeat(129),
    'quote"d',
    "semi;colon",
    "<script>",
    "tab\there",
    "ünï",
    "a,b",
  ]) {
    const headers = await generate(proxy.url, { ...proxy.auth, "x-request-id": junk });
    const id = headers["x-request-id"] as string;
    assert.match(id, UUID, JSON.stringify(junk));
    assert.equal(backend.work().at(-1)!.headers["x-request-id"], id);
    seen.add(id);
  }
  const none = await generate(proxy.url, proxy.auth);
  assert.match(none["x-request-id"] as string, UUID);
  seen.add(none["x-request-id"] as string);
  assert.equal(seen.size, 10, "each request gets its own id");
});

test("every answer carries X-Request-Id; the backend's carry X-Ollama-Proxy-Server", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  const auth = proxy.auth;

  // Answered by the backend: streamed, not streamed, its own errors, the OpenAI API.
  const served: [string, RequestInit][] = [
    ["/api/generate", { method: "POST", headers: auth, body: '{"model":"llama3","prompt":"hi"}' }],
    ["/api/chat", { method: "POST", headers: auth, body: '{"model":"llama3","messages":[],"stream":false}' }],
    ["/api/show", { method: "POST", headers: auth, body: '{"name":"llama3"}' }],
    ["/api/generate", { method: "POST", headers: auth, body: '{"model":"no-such-model","prompt":"hi"}' }],
    [
      "/v1/chat/completions",
      { method: "POST", headers: auth, body: '{"model":"llama3","messages":[],"stream":true}' },
    ],
  ];
  for (const [path, init] of served) {
    const res = await fetch(`${proxy.url}${path}`, init);
    await res.arrayBuffer();
    assert.match(res.headers.get("x-request-id") ?? "", UUID, path);
    assert.equal(res.headers.get("x-ollama-proxy-server"), "gpu1", `${path} ${res.status}`);
  }

  // Answered by the proxy itself.
  const own: [string, RequestInit][] = [
    ["/", {}],
    ["/api/version", {}],
    ["/health", {}],
    ["/api/tags", { headers: auth }],
    ["/v1/models", { headers: auth }],
    ["/api/tags", {}],
    ["/api/nope", { headers: auth }],
    ["/api/generate", { method: "POST", headers: auth, body: "{}" }],
  ];
  for (const [path, init] of own) {
    const res = await fetch(`${proxy.url}${path}`, init);
    await res.arrayBuffer();
    assert.match(res.headers.get("x-request-id") ?? "", UUID, `${path} ${res.status}`);
  }

  // The openai SDK exposes the id of each response.
  const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: proxy.userToken, maxRetries: 0 });
  const { response } = await client.chat.completions
    .create({ model: "llama3", messages: [{ role: "user", content: "hi" }] })
    .withResponse();
  assert.match(response.headers.get("x-request-id") ?? "", UUID);
  assert.equal(response.headers.get("x-ollama-proxy-server"), "gpu1");
});
