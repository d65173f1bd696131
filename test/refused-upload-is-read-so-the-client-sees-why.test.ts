import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { Ollama } from "ollama";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// fetch (undici) — and so the ollama and openai JS clients — write the whole body before they
// read: a 413 sent while the upload is still coming, followed by a close, reached them as
// EPIPE. The proxy reads and drops the rest of the body (within bounds) before it answers.

test("a 12 MB body under a 10 MB limit: fetch reads the 413 and its message", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu" });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { limits: { max_body_mb: 10 } } });
  const body = JSON.stringify({ model: "llama3", prompt: "x".repeat(12 * 1024 * 1024) });

  const res = await fetch(`${p.url}/api/generate`, { method: "POST", headers: p.auth, body });
  assert.equal(res.status, 413);
  assert.deepEqual(await res.json(), { error: "request body is larger than 10 MB" });

  // The same through the ollama client, which raises it.
  const ollama = new Ollama({ host: p.url, headers: p.auth });
  await assert.rejects(
    ollama.generate({ model: "llama3", prompt: "x".repeat(12 * 1024 * 1024), stream: false }),
    (err: Error & { status_code?: number }) =>
      err.status_code === 413 && /larger than 10 MB/.test(err.message),
  );
  assert.deepEqual(gpu.work(), []);

  // Streamed without a length: refused once 10 MB have come, while the client is still sending.
  const streamed = await fetch(`${p.url}/api/generate`, {
    method: "POST",
    headers: p.auth,
    body: new Blob([body]).stream(),
    duplex: "half",
  } as RequestInit);
  assert.equal(streamed.status, 413);
  assert.deepEqual(await streamed.json(), { error: "request body is larger than 10 MB" });

  // A refusal before the body is read (no token) is readable too.
  const anonymous = await fetch(`${p.url}/api/generate`, { method: "POST", body });
  assert.equal(anonymous.status, 401);
  assert.match(((await anonymous.json()) as { error: string }).error, /valid API token/);
});

/**
 * A client that writes its whole request before it reads a byte (Python's urllib does): the
 * answer, or the error that stopped the upload.
 */
function writeAllThenRead(port: number, head: string, body: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let text = "";
    socket.pause();
    socket.on("error", (err: NodeJS.ErrnoException) => resolve(`upload failed: ${err.code}`));
    socket.on("data", (c: Buffer) => {
      text += c.toString();
    });
    socket.on("end", () => resolve(text));
    const chunks: Buffer[] = [Buffer.from(head)];
    for (let i = 0; i < body.length; i += 64 * 1024) {
      const part = body.subarray(i, i + 64 * 1024);
      chunks.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from("\r\n"));
    }
    chunks.push(Buffer.from("0\r\n\r\n"));
    const pump = () => {
      while (chunks.length > 0) if (!socket.write(chunks.shift()!)) return void socket.once("drain", pump);
      socket.resume(); // only now does it read
    };
    pump();
  });
}

test("a client that reads only after its whole chunked upload gets the 413, not a reset", async (t) => {
  // 30 MB over the limit: more than the socket buffers between the two hold, so the client
  // can finish its upload only if the proxy reads it.
  const gpu = await startFakeOllama({ name: "gpu" });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { limits: { max_body_mb: 10 } } });
  const body = Buffer.from(JSON.stringify({ model: "llama3", prompt: "x".repeat(40 * 1024 * 1024) }));
  const answer = await writeAllThenRead(
    p.server.port,
    `POST /api/generate HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${p.userToken}\r\ntransfer-encoding: chunked\r\n\r\n`,
    body,
  );
  assert.match(answer, /^HTTP\/1\.1 413 /);
  assert.match(answer, /\{"error":"request body is larger than 10 MB"\}$/);
});
