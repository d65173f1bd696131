import assert from "node:assert/strict";
import { once } from "node:events";
import { type IncomingMessage, request } from "node:http";
import test from "node:test";
import { clientHome, login, startConnect } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// What the Go `ollama` command sends for `ollama list`, `ollama run`, `ollama show` and
// `ollama ps` with OLLAMA_HOST pointing at connect, request for request, with its headers
// and no Authorization: each gets the answer the proxy gives a client with a token.

const GO_HEADERS = {
  "user-agent": "ollama/0.12.0 (amd64 linux) Go/go1.24.0",
  accept: "application/x-ndjson",
  "accept-encoding": "gzip",
};

async function goCall(base: string, method: string, path: string, body?: string) {
  const headers: Record<string, string> = { ...GO_HEADERS };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(Buffer.byteLength(body));
  }
  const req = request(`${base}${path}`, { method, headers });
  req.end(body);
  const [res] = (await once(req, "response")) as [IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return { status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() };
}

test("the Go CLI's calls (HEAD /, tags, show, streamed chat, ps) work through connect", async (t) => {
  clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1", models: [{ name: "llama3:latest", loaded: true }] });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);
  const door = await startConnect(t);

  // `ollama run llama3`: heartbeat, show, then a streamed chat.
  const heartbeat = await goCall(door.url, "HEAD", "/");
  assert.equal(heartbeat.status, 200);
  assert.equal(heartbeat.text, "");

  const calls: [string, string, string | undefined][] = [
    ["GET", "/api/tags", undefined],
    ["POST", "/api/show", '{"model":"llama3"}'],
    ["POST", "/api/chat", '{"model":"llama3","messages":[{"role":"user","content":"hi"}],"stream":true}'],
    ["GET", "/api/ps", undefined],
  ];
  for (const [method, path, body] of calls) {
    const through = await goCall(door.url, method, path, body);
    const direct = await new Promise<Awaited<ReturnType<typeof goCall>>>((resolve, reject) => {
      const headers: Record<string, string> = { ...GO_HEADERS, authorization: proxy.auth.authorization };
      if (body !== undefined) headers["content-type"] = "application/json";
      const req = request(`${proxy.url}${path}`, { method, headers });
      req.on("error", reject);
      req.on("response", async (res) => {
        const chunks: Buffer[] = [];
        for await (const c of res) chunks.push(c as Buffer);
        resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() });
      });
      req.end(body);
    });
    assert.equal(through.status, 200, `${method} ${path}: ${through.text}`);
    assert.equal(through.text, direct.text, `${method} ${path}`);
    assert.equal(through.headers["content-type"], direct.headers["content-type"]);
  }
  const chat = (await goCall(door.url, ...calls[2]!)).text.trim().split("\n");
  assert.equal(chat.length, 4);
  assert.equal(JSON.parse(chat.at(-1)!).done, true);
  // The Go client's own headers reach Ollama; the token does not.
  const seen = fake.work().find((r) => r.path === "/api/chat")!;
  assert.equal(seen.headers["user-agent"], GO_HEADERS["user-agent"]);
  assert.equal(seen.headers.authorization, undefined);
});
