import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import test from "node:test";
import { parseProxyUrl } from "../lib/client/front-door.js";
import { clientHome, login } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// The usual mistakes at login — an Ollama's address instead of the proxy's, a port where
// nothing listens — each get a sentence that says what is wrong; nothing is stored.

test("login to a plain Ollama says it is not an ollama-proxy", async (t) => {
  const { credentials } = clientHome(t);
  const ollama = await startFakeOllama({ name: "gpu1" });
  t.after(() => ollama.close());
  const r = await login(ollama.url, "olp_whatever");
  assert.equal(r.code, 1);
  assert.equal(
    r.err,
    `ollama-proxy: ${ollama.url} is not an ollama-proxy: it answered 404 404 page not found ` +
      "(a plain Ollama answers 404 on /proxy/me). Give the proxy's address, not an Ollama server's; nothing was stored",
  );
  assert.equal(existsSync(credentials), false);
});

test("login to a port where nothing listens says so", async (t) => {
  const { credentials } = clientHome(t);
  const closed = createServer();
  closed.listen(0, "127.0.0.1");
  await once(closed, "listening");
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));

  const r = await login(`127.0.0.1:${port}`, "olp_whatever");
  assert.equal(r.code, 1);
  assert.equal(
    r.err,
    `ollama-proxy: nothing listens at http://127.0.0.1:${port} (connection refused): check the host and port; nothing was stored`,
  );
  assert.equal(existsSync(credentials), false);
});

test("a URL without a scheme means http://, and a bare host Ollama's port 11434", async (t) => {
  const { credentials } = clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  const hostPort = proxy.url.replace("http://", "");

  const r = await login(hostPort, proxy.userToken);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(readFileSync(credentials, "utf8")).url, `http://${hostPort}`);

  const parsed = (text: string) => {
    const u = parseProxyUrl(text);
    return typeof u === "string" ? u : u.href;
  };
  assert.equal(parsed("gpu.example.com"), "http://gpu.example.com:11434/");
  assert.equal(parsed("http://gpu.example.com"), "http://gpu.example.com/");
  assert.equal(parsed("https://gpu.example.com/"), "https://gpu.example.com/");
  assert.equal(parsed("https://gpu.example.com/ollama/"), "https://gpu.example.com/ollama");
  assert.equal(parsed("[::1]:11400"), "http://[::1]:11400/");
  assert.equal(
    parsed("https://me:pw@gpu.example.com"),
    '"https://me:pw@gpu.example.com": put no credentials in the URL; the token is asked for separately',
  );
});
