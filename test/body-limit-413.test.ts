import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// limits.max_body_mb: 413 with an Ollama-style body, whether the client declares the length
// or streams the body chunked; the backend never gets the request.

function send(
  url: string,
  auth: string,
  parts: Buffer[],
  declare: boolean,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const total = parts.reduce((n, p) => n + p.length, 0);
    const req = request(`${url}/api/generate`, {
      method: "POST",
      headers: {
        authorization: auth,
        "content-type": "application/json",
        ...(declare ? { "content-length": total } : {}),
      },
    });
    req.on("response", (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // The proxy may close the connection after its 413 while the body is still on its way.
    req.on("error", (err: NodeJS.ErrnoException) =>
      err.code === "EPIPE" || err.code === "ECONNRESET" ? undefined : reject(err),
    );
    const write = (i: number) => {
      if (i === parts.length) return req.end();
      if (req.destroyed) return;
      req.write(parts[i], () => write(i + 1));
    };
    write(0);
  });
}

test("a body over max_body_mb gets 413, with Content-Length up front and chunked while streaming", async (t) => {
  const backend = await startFakeOllama({ name: "gpu" });
  t.after(() => backend.close());
  const p = await startProxy(t, [backend], { extra: { limits: { max_body_mb: 2 } } });
  const head = Buffer.from('{"model":"llama3","prompt":"');
  const filler = Array.from({ length: 6 }, () => Buffer.alloc(512 * 1024, 0x61));
  const parts = [head, ...filler, Buffer.from('"}')];

  for (const declare of [true, false]) {
    const r = await send(p.url, p.auth.authorization, parts, declare);
    assert.equal(r.status, 413, `declared=${declare}`);
    assert.deepEqual(JSON.parse(r.body), { error: "request body is larger than 2 MB" });
  }
  assert.deepEqual(backend.work(), [], "nothing reached the backend");

  // Still up, and a body just under the limit, chunked, streams through whole.
  const under = [head, ...filler.slice(0, 3), Buffer.from('","stream":false}')];
  const ok = await send(p.url, p.auth.authorization, under, false);
  assert.equal(ok.status, 200, ok.body);
  assert.equal(
    backend.work()[0]?.body.length,
    under.reduce((n, b) => n + b.length, 0),
  );
});
