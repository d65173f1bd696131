import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { type IncomingMessage, request } from "node:http";
import { Readable } from "node:stream";
import { test } from "node:test";
import { clientHome, login, runClient, startConnect } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { makeTlsPair } from "./fixtures/tls-pair.js";
import { startProxy, tempDir, waitFor } from "./helpers.js";

// The client commands against the real proxy serving HTTPS with a self-signed certificate:
// login refuses it until --ca names it, then whoami and connect use the remembered CA, and
// connect carries a streamed chat over TLS chunk by chunk. models --url takes --ca too.

test("login --ca, whoami, connect and models --url --ca against the proxy over HTTPS", async (t) => {
  const { credentials } = clientHome(t);
  const backend = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "llama3:latest" }],
    behaviour: { chunks: 50, stallAfterChunks: 3 },
  });
  t.after(() => backend.close());
  const pair = makeTlsPair(tempDir(t));
  const proxy = await startProxy(t, [backend], { extra: { tls: { cert: pair.cert, key: pair.key } } });

  const untrusted = await login(proxy.url, proxy.userToken);
  assert.equal(untrusted.code, 1);
  assert.equal(
    untrusted.err,
    `ollama-proxy: the TLS certificate of ${proxy.url} is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT): if it comes ` +
      `from a private CA, run \`ollama-proxy login ${proxy.url} --ca CA.pem\` with that CA's certificate; nothing was stored`,
  );
  assert.equal(existsSync(credentials), false);

  const r = await login(proxy.url, proxy.userToken, ["--ca", pair.cert]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.split("\n")[0], `Logged in to ${proxy.url} as alice (user).`);
  assert.equal(JSON.parse(readFileSync(credentials, "utf8")).ca, pair.cert);

  const who = await runClient(["whoami", "--json"]);
  assert.equal(who.code, 0, who.err);
  assert.deepEqual(
    [JSON.parse(who.out).name, JSON.parse(who.out).role, JSON.parse(who.out).models],
    ["alice", "user", ["llama3:latest"]],
  );

  const door = await startConnect(t);
  assert.match(
    door.stdout.join("\n"),
    new RegExp(`→ ${proxy.url.replaceAll(".", "\\.")} as alice \\(user\\)`),
  );
  const req = request(`${door.url}/api/chat`, {
    method: "POST",
    headers: { "content-type": "application/json" },
  });
  req.on("error", () => {});
  req.end(JSON.stringify({ model: "llama3", messages: [{ role: "user", content: "hi" }] }));
  t.after(() => req.destroy());
  const [res] = (await once(req, "response")) as [IncomingMessage];
  assert.equal(res.statusCode, 200);
  const lines: string[] = [];
  let ended = false;
  res.on("data", (c: Buffer) =>
    lines.push(
      ...c
        .toString()
        .split("\n")
        .filter((l) => l !== ""),
    ),
  );
  res.on("end", () => {
    ended = true;
  });
  res.on("error", () => {});
  await waitFor("three chunks through connect and TLS before the end", () => lines.length === 3);
  assert.equal(ended, false);

  // models --url uses the CA login remembered for that URL; logged out, it needs --ca.
  assert.equal((await runClient(["logout"])).code, 0);
  const admin = () => Readable.from([`${proxy.adminToken}\n`]);
  const noCa = await runClient(["models", "list", "--json", "--url", proxy.url, "--token-stdin"], admin());
  assert.equal(noCa.code, 1);
  assert.match(noCa.err, /the TLS certificate of .* is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
  const models = await runClient(
    ["models", "list", "--json", "--url", proxy.url, "--ca", pair.cert, "--token-stdin"],
    admin(),
  );
  assert.equal(models.code, 0, models.err);
  assert.deepEqual(
    (JSON.parse(models.out) as { models: { model: string }[] }).models.map((m) => m.model),
    ["llama3:latest"],
  );
});
