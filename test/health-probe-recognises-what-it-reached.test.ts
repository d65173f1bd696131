import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { type TestContext, test } from "node:test";
import { runCli } from "./helpers.js";

// `health` must never pass a dead proxy or page on a healthy one because of what it happens to
// reach: a plain Ollama (proxy_port pointing at the Ollama it should stand in front of) is
// "reached an Ollama, not ollama-proxy", exit 2; an answer that is not a health report (an
// HTML error page, some other JSON) is reported as exactly that, never as "unreachable".

async function serve(t: TestContext, handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** What Ollama itself answers: "Ollama is running" at /, Go's 404 page anywhere it has no route. */
const ollama: RequestListener = (req, res) => {
  if (req.url === "/") {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    res.end("Ollama is running");
    return;
  }
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("404 page not found");
};

test("a plain Ollama: exit 2, reached an Ollama, not ollama-proxy", async (t) => {
  const url = await serve(t, ollama);
  const r = await runCli(["health", "--url", url]);
  assert.equal(r.code, 2);
  assert.equal(
    r.out,
    `reached an Ollama, not ollama-proxy: ${url}/ says "Ollama is running" but ${url}/health is missing; is proxy_port the Ollama's port?`,
  );
  const json = await runCli(["health", "--url", url, "--json"]);
  assert.equal(json.code, 2);
  assert.deepEqual(JSON.parse(json.out), {
    status: "not_ollama_proxy",
    url: `${url}/health`,
    error: `${url}/ says "Ollama is running" but ${url}/health is missing; is proxy_port the Ollama's port?`,
  });
});

test("an answer that is not JSON: exit 2, named as an unexpected answer with what came back", async (t) => {
  const url = await serve(t, (_req, res) => {
    res.writeHead(502, { "content-type": "text/html" });
    res.end("<html><body>Bad Gateway</body></html>");
  });
  const r = await runCli(["health", "--url", url]);
  assert.equal(r.code, 2);
  assert.equal(
    r.out,
    `unexpected answer from ${url}/health: HTTP 502, text/html, not JSON: "<html><body>Bad Gateway</body></html>"`,
  );
  assert.doesNotMatch(r.out, /unreachable/);
});

test("JSON that is not a health report: exit 2, said so", async (t) => {
  const url = await serve(t, (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"UP"}');
  });
  const r = await runCli(["health", "--url", url, "--json"]);
  assert.equal(r.code, 2);
  assert.deepEqual(JSON.parse(r.out), {
    status: "unexpected_answer",
    url: `${url}/health`,
    error: `HTTP 200, JSON without ollama-proxy's health fields: "{\\"status\\":\\"UP\\"}"`,
  });
});
