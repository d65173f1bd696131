import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { chunked, rawExchange } from "./fixtures/raw-client.js";
import { startProxy } from "./helpers.js";

// A body on a method that usually carries none used to follow the head unframed on the
// keep-alive connection to the backend, which read it as its next request: an ordinary user
// could make a server run an admin-only pull. Every body goes framed as the client's was, or
// is refused where the endpoint takes none.

const SMUGGLED =
  'POST /api/pull HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 22\r\n\r\n{"model":"evil:latest"}';

test("a chunked body on GET, HEAD or DELETE never reaches a backend as a request of its own", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu" });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { allow_cloud: true } });
  const cases: [string, string, string, RegExp][] = [
    ["GET", "/api/experimental/model-recommendations", p.userToken, /^HTTP\/1\.1 400 /],
    ["HEAD", `/api/blobs/sha256:${"ab".repeat(32)}`, p.adminToken, /^HTTP\/1\.1 400 /],
    ["DELETE", "/api/experimental/x", p.userToken, /^HTTP\/1\.1 405 /],
    ["DELETE", "/api/signout", p.adminToken, /^HTTP\/1\.1 405 /],
    ["GET", "/api/me", p.adminToken, /^HTTP\/1\.1 405 /],
  ];
  for (const [method, path, token, answer] of cases) {
    const text = await rawExchange(
      p.server.port,
      `${method} ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ntransfer-encoding: chunked\r\n\r\n${chunked(SMUGGLED)}`,
      500,
    );
    assert.match(text, answer, `${method} ${path}`);
  }
  assert.deepEqual(
    gpu.received.filter((r) => r.path === "/api/pull"),
    [],
    "no smuggled pull reached the server",
  );
});

test("a chunked body the endpoint takes goes framed: one request upstream, body whole", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu" });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu]);
  const blob = SMUGGLED.repeat(3);
  const upload = await rawExchange(
    p.server.port,
    `POST /api/blobs/sha256:${"cd".repeat(32)} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${p.adminToken}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n${chunked(blob)}`,
  );
  assert.match(upload, /^HTTP\/1\.1 201 /);
  const del = await rawExchange(
    p.server.port,
    `DELETE /api/delete HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${p.adminToken}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n${chunked('{"model":"llama3"}')}`,
  );
  assert.match(del, /^HTTP\/1\.1 200 /);
  assert.deepEqual(
    gpu.work().map((r) => `${r.method} ${r.path} ${r.raw.length}`),
    [`POST /api/blobs/sha256:${"cd".repeat(32)} ${blob.length}`, `DELETE /api/delete 18`],
  );
});
