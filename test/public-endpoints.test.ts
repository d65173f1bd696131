import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { Ollama } from "ollama";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// What a stock Ollama answers without credentials, the proxy answers the same way: tools
// probe `/` and `/api/version` to find out whether an Ollama is there and what it can do.

function head(url: string) {
  return new Promise<{ status: number; headers: import("node:http").IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      request(url, { method: "HEAD" }, (res) => {
        let body = "";
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
        .on("error", reject)
        .end();
    },
  );
}

test("GET and HEAD / say Ollama is running, with no token", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  const res = await fetch(`${proxy.url}/`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await res.text(), "Ollama is running");

  const h = await head(`${proxy.url}/`);
  assert.equal(h.status, 200);
  assert.equal(h.headers["content-length"], "17");
  assert.equal(h.body, "");
  assert.deepEqual(backend.work(), [], "answered by the proxy itself");
});

test("/api/version answers without a token, with the fleet's lowest version", async (t) => {
  const a = await startFakeOllama({ name: "gpu1", version: "0.12.3" });
  const b = await startFakeOllama({ name: "gpu2", version: "0.9.10" });
  t.after(() => Promise.all([a.close(), b.close()]));
  const proxy = await startProxy(t, [a, b]);

  const res = await fetch(`${proxy.url}/api/version`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  // A client checks features against this: the oldest server is what it may land on.
  assert.deepEqual(await res.json(), { version: "0.9.10" });
  assert.equal((await new Ollama({ host: proxy.url }).version()).version, "0.9.10");

  const h = await head(`${proxy.url}/api/version`);
  assert.equal(h.status, 200);
  assert.equal(h.body, "");
  assert.equal(h.headers["content-length"], String(Buffer.byteLength('{"version":"0.9.10"}')));
});
