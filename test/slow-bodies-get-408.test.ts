import assert from "node:assert/strict";
import { request } from "node:http";
import { connect } from "node:net";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// A body that trickles in holds a connection for as long as the request timeout (minutes),
// outliving the headers timeout that stops slowloris on headers: no progress for
// limits.body_timeout_ms gets 408, and public endpoints, which take no body, close after answering.

test("a request body that makes no progress for body_timeout_ms gets 408, readable by the client", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu" });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { limits: { body_timeout_ms: 300 } } });
  const started = Date.now();
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(`${p.url}/api/generate`, {
      method: "POST",
      headers: { ...p.auth, "content-type": "application/json", "content-length": "1000" },
    });
    req.on("response", (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.write('{"model":"llama3","prompt":"'); // and nothing more
  });
  assert.equal(answer.status, 408);
  assert.deepEqual(JSON.parse(answer.body), { error: "the request body made no progress for 0.3 s" });
  assert.ok(Date.now() - started < 5000);
  assert.deepEqual(gpu.work(), []);
});

test("a public endpoint with a body that never ends: answered, and the connection closed at once", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu" });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu]);
  const socket = connect(p.server.port, "127.0.0.1");
  let text = "";
  socket.on("data", (c: Buffer) => {
    text += c.toString();
  });
  socket.write("GET /health HTTP/1.1\r\nhost: x\r\ncontent-length: 100000000\r\n\r\nx");
  await new Promise<void>((resolve, reject) => {
    socket.on("close", () => resolve());
    socket.on("error", () => resolve());
    setTimeout(() => reject(new Error("the connection is still open")), 3000);
  });
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.match(text, /\r\nconnection: close\r\n/i);
});
