import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// The proxy reads the body only to find the model; what the backend gets is the client's
// bytes, unchanged: no parse-and-stringify (which would reorder, unescape and renumber).

// Spelled the way no JSON.stringify would: odd spacing, escapes, 1.0e2, a duplicate key.
const SMALL = Buffer.from(
  ' {\n  "prompt" : "caf\\u00e9 \\ud83e\\udd99 \\"quoted\\" \\/ é",\t"options":{"temperature":1.0e2, "model":"nested"},' +
    '\r\n "model":"llama3" , "stream" : false , "raw":true,"raw":false }\n',
  "utf8",
);

function large(size: number): Buffer {
  // The model comes first, so the proxy knows it long before the body ends; the rest is a
  // non-repeating pattern, so a lost, doubled or reordered chunk cannot go unnoticed.
  const head = Buffer.from('{"model" : "llama3","stream":false,"prompt":"', "utf8");
  const tail = Buffer.from('" , "x" : 1.50 }', "utf8");
  const fill = Buffer.alloc(size - head.length - tail.length);
  for (let i = 0; i < fill.length; i++) fill[i] = 0x61 + ((i * 7 + Math.floor(i / 26)) % 26);
  return Buffer.concat([head, fill, tail]);
}

async function send(url: string, auth: Record<string, string>, body: Buffer, chunked: boolean) {
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < body.length; i += 100_000) c.enqueue(body.subarray(i, i + 100_000));
      c.close();
    },
  });
  const res = await fetch(url, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: chunked ? stream : body,
    // A lost chunk shows as a backend waiting for bytes that never come: fail, do not hang.
    signal: AbortSignal.timeout(10_000),
    ...(chunked ? { duplex: "half" } : {}),
  } as RequestInit);
  const answer = await res.json();
  return { status: res.status, answer };
}

test("a small body reaches the backend byte for byte", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  for (const chunked of [false, true]) {
    const r = await send(`${proxy.url}/api/generate`, proxy.auth, SMALL, chunked);
    assert.equal(r.status, 200, JSON.stringify(r.answer));
    const got = backend.work().at(-1)!;
    assert.ok(got.raw.equals(SMALL), `chunked=${chunked}: ${got.raw.toString()}`);
    assert.equal(got.headers["content-length"], String(SMALL.length));
  }
});

test("a body over 1 MB (streamed past the peek) reaches the backend byte for byte", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend], { extra: { limits: { max_body_mb: 16 } } });
  const body = large(3 * 1024 * 1024 + 123);

  for (const chunked of [false, true]) {
    const r = await send(`${proxy.url}/api/generate`, proxy.auth, body, chunked);
    assert.equal(r.status, 200, JSON.stringify(r.answer));
    const got = backend.work().at(-1)!;
    assert.equal(got.raw.length, body.length, `chunked=${chunked}: length`);
    assert.ok(got.raw.equals(body), `chunked=${chunked}: bytes differ`);
  }
  assert.equal(backend.work().length, 2);
});
