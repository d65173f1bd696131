import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { stringify } from "yaml";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { addUser, post, section, tempDir, waitFor, writeConfig } from "./helpers.js";

// SIGHUP re-reads the config without dropping a connection or a stream; a bad file is
// reported and the running config stays.

test("SIGHUP applies a good file to new requests while a running stream goes on, and keeps the old config on a bad file", async (t) => {
  const a = await startFakeOllama({
    name: "a",
    models: [{ name: "llama3:latest" }],
    behaviour: { chunks: 30, intervalMs: 20 },
  });
  const b = await startFakeOllama({ name: "b", models: [{ name: "llama3:latest" }] });
  t.after(() => Promise.all([a.close(), b.close()]));
  const dir = tempDir(t);
  const base = section([a, b], { logging: { level: "info", dir: null } });
  const { file, config } = writeConfig(dir, base);
  const auth = addUser(config.database);
  const proxy = await spawnProxy(t, file);

  const first = await post(
    `${proxy.url}/api/generate`,
    { model: "llama3", prompt: "x", stream: false },
    auth,
  );
  assert.equal(first.headers.get("x-ollama-proxy-server"), "a");

  // A long stream from a is running when the reload makes b the only enabled server.
  const running = post(`${proxy.url}/api/generate`, { model: "llama3", prompt: "long" }, auth);
  await waitFor("the stream to start", () => a.inProgress() > 0);
  const swapped = {
    ...base,
    servers: { ...(base.servers as object), a: { host: "127.0.0.1", port: a.port, enabled: false } },
  };
  writeFileSync(file, stringify({ test: { database: config.database, ...swapped } }));
  proxy.child.kill("SIGHUP");
  await waitFor("the reload to apply", async () => {
    const r = await post(`${proxy.url}/api/generate`, { model: "llama3", prompt: "x", stream: false }, auth);
    return r.headers.get("x-ollama-proxy-server") === "b";
  });
  const stream = await running;
  assert.equal(stream.status, 200);
  assert.equal(stream.text.trim().split("\n").length, 31, "every chunk of the running stream arrived");
  assert.match(stream.text, /"done":true/);

  // A bad file: reported, and b keeps serving.
  writeFileSync(
    file,
    `${readFileSync(file, "utf8").replace(/proxy_port: \d+/, 'proxy_port: "many"')}  bogus_key: 1\n`,
  );
  proxy.child.kill("SIGHUP");
  await waitFor("the reload error in the log", () => proxy.stdout().includes("config reload failed"));
  assert.match(proxy.stdout(), /test\.bogus_key: unknown key/);
  assert.match(proxy.stdout(), /test\.proxy_port: must be integer/);
  const still = await post(
    `${proxy.url}/api/generate`,
    { model: "llama3", prompt: "x", stream: false },
    auth,
  );
  assert.equal(still.status, 200);
  assert.equal(still.headers.get("x-ollama-proxy-server"), "b");
  assert.equal(await proxy.stop(), 0);
});
