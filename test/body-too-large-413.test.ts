import assert from "node:assert/strict";
import { type IncomingHttpHeaders, request } from "node:http";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// limits.max_body_mb holds whether the client declares the size (Content-Length, refused
// before a byte of body is read) or not (a chunked body, refused once it has sent too much),
// and whether the excess comes while the proxy peeks or after it started streaming upstream.

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/**
 * Sends `total` bytes of a JSON body in 64 KiB chunks (no Content-Length unless `declare`),
 * and resolves with the answer; an upload cut off after the answer is expected, not an error.
 */
function upload(
  url: string,
  headers: Record<string, string>,
  body: Buffer,
  opts: { declare?: number } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      url,
      {
        method: "POST",
        headers: {
          ...headers,
          "content-type": "application/json",
          ...(opts.declare === undefined ? {} : { "content-length": String(opts.declare) }),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => {
          answered = true;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) });
        });
      },
    );
    req.on("error", (err) => {
      if (!answered) reject(err);
    });
    let i = 0;
    const pump = () => {
      while (i < body.length && !req.destroyed) {
        const more = req.write(body.subarray(i, i + 65536));
        i += 65536;
        if (!more) return void req.once("drain", pump);
      }
      if (!req.destroyed) req.end();
    };
    pump();
  });
}

function bodyOf(bytes: number): Buffer {
  const head = '{"model":"llama3","stream":false,"prompt":"';
  return Buffer.from(`${head}${"x".repeat(bytes - head.length - 2)}"}`);
}

test("Content-Length over the limit: 413 and nothing reaches a backend, the client's whole body read and dropped", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend], { extra: { limits: { max_body_mb: 1 } } });

  // The client sends what it declared before it reads (as fetch and the SDKs do): the proxy
  // drops it and answers, instead of closing under the upload.
  const a = await upload(`${proxy.url}/api/generate`, proxy.auth, bodyOf(10 * 1024 * 1024), {
    declare: 10 * 1024 * 1024,
  });
  assert.equal(a.status, 413);
  assert.deepEqual(a.body, { error: "request body is larger than 1 MB" });
  assert.equal(a.headers.connection, "close");

  const v1 = await upload(`${proxy.url}/v1/chat/completions`, proxy.auth, bodyOf(1024 * 1024 + 1), {
    declare: 1024 * 1024 + 1,
  });
  assert.equal(v1.status, 413);
  assert.deepEqual(v1.body, {
    error: {
      message: "request body is larger than 1 MB",
      type: "invalid_request_error",
      code: "body_too_large",
    },
  });
  assert.deepEqual(backend.work(), []);
});

test("a chunked body over the limit while the proxy still reads it: 413", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  // Half a megabyte: the limit is hit before the proxy would stop keeping the body for a retry.
  const proxy = await startProxy(t, [backend], { extra: { limits: { max_body_mb: 0.5 } } });
  const a = await upload(`${proxy.url}/api/generate`, proxy.auth, bodyOf(800_000));
  assert.equal(a.status, 413);
  assert.deepEqual(a.body, { error: "request body is larger than 0.5 MB" });
  assert.deepEqual(backend.work(), []);

  // The limit itself is allowed, one byte more is not, declared or not.
  const limit = 512 * 1024;
  assert.equal((await upload(`${proxy.url}/api/generate`, proxy.auth, bodyOf(limit))).status, 200);
  assert.equal((await upload(`${proxy.url}/api/generate`, proxy.auth, bodyOf(limit + 1))).status, 413);
  const exact = bodyOf(limit);
  assert.equal(
    (await upload(`${proxy.url}/api/generate`, proxy.auth, exact, { declare: limit })).status,
    200,
  );
  assert.equal(backend.work().length, 2);
});

test("a chunked body over the limit after streaming upstream began: 413, upstream cut off", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend], { extra: { limits: { max_body_mb: 2 } } });

  const a = await upload(`${proxy.url}/api/generate`, proxy.auth, bodyOf(3 * 1024 * 1024));
  assert.equal(a.status, 413);
  assert.deepEqual(a.body, { error: "request body is larger than 2 MB" });
  // The backend saw an upload start and die: it never got a request to work on.
  await waitFor("the backend's half-received request to end", () => backend.inProgress() === 0, 2000);
  assert.deepEqual(backend.work(), []);

  // Under the limit the same route streams the whole body through.
  const ok = await upload(`${proxy.url}/api/generate`, proxy.auth, bodyOf(1_900_000));
  assert.equal(ok.status, 200);
  assert.equal(backend.work().length, 1);
  assert.equal(backend.work()[0]!.raw.length, 1_900_000);
});
