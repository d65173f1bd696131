import assert from "node:assert/strict";
import { once } from "node:events";
import { copyFileSync, readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { request } from "node:https";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { makeTlsPair, servedFingerprint } from "./fixtures/tls-pair.js";
import { addUser, section, tempDir, waitFor, writeConfig } from "./helpers.js";

// A certificate renewed under the same paths and a SIGHUP: new connections get the new
// certificate, a stream that started before goes on to its end on the old one, and the
// foreground output names `tls` as applied.

test("SIGHUP serves a renewed certificate to new connections without dropping a running stream", async (t) => {
  const backend = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "llama3:latest" }],
    behaviour: { chunks: 40, intervalMs: 50 },
  });
  t.after(() => backend.close());
  const dir = tempDir(t);
  const live = makeTlsPair(dir, "live");
  const renewed = makeTlsPair(dir, "renewed");
  const { file, config } = writeConfig(
    dir,
    section([backend], { tls: { cert: live.cert, key: live.key }, logging: { level: "info", dir: null } }),
  );
  const auth = addUser(config.database);
  const proxy = await spawnProxy(t, file);
  assert.match(proxy.url, /^https:\/\//);
  assert.equal(await servedFingerprint(proxy.url), live.fingerprint);

  const req = request(`${proxy.url}/api/generate`, {
    method: "POST",
    ca: readFileSync(live.cert),
    headers: { ...auth, "content-type": "application/json" },
  });
  req.end(JSON.stringify({ model: "llama3", prompt: "hi" }));
  const [res] = (await once(req, "response")) as [IncomingMessage];
  assert.equal(res.statusCode, 200);
  let body = "";
  res.on("data", (c: Buffer) => {
    body += c.toString();
  });
  const ended = once(res, "end");
  await waitFor("the stream under way", () => body.includes('"response":"w1 "'));

  copyFileSync(renewed.cert, live.cert);
  copyFileSync(renewed.key, live.key);
  proxy.child.kill("SIGHUP");
  await waitFor("the reload line", () => /config reloaded from .*: applied tls\n/.test(proxy.stderr()));
  assert.equal(await servedFingerprint(proxy.url), renewed.fingerprint);
  assert.ok(!body.includes('"done":true'), "the stream was still running during the reload");

  await ended;
  const lines = body.trim().split("\n");
  assert.equal(lines.length, 41, "every chunk and the final one arrived");
  assert.equal((JSON.parse(lines.at(-1)!) as { done: boolean }).done, true);

  // A new client trusts the new certificate.
  const after = await new Promise<number>((resolve, reject) => {
    const r = request(`${proxy.url}/api/tags`, { ca: readFileSync(renewed.cert), headers: auth }, (x) => {
      x.resume();
      resolve(x.statusCode ?? 0);
    });
    r.on("error", reject);
    r.end();
  });
  assert.equal(after, 200);
  assert.match(proxy.stdout(), /"msg":"TLS certificate reloaded"/);
  assert.equal(await proxy.stop(), 0);
});
