import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import test, { type TestContext } from "node:test";
import type { TLSSocket } from "node:tls";
import { clientHome, login, runClient, startConnect } from "./fixtures/client-cli.js";
import { tempDir } from "./helpers.js";

// A proxy behind a certificate from a private CA: login --ca trusts that CA, remembers it,
// and whoami and connect use it. The server here is a node:https stand-in answering
// /proxy/me, with a self-signed pair made for the test: it records what connect sends it
// (encrypted, with the stored token). login-whoami-connect-models-against-the-tls-proxy
// does the same against the real proxy serving HTTPS.

const TOKEN = "olp_tls-test-token";

interface TlsStandIn {
  url: string;
  cert: string;
  seen: { path: string; headers: IncomingHttpHeaders; encrypted: boolean }[];
}

async function startTlsStandIn(t: TestContext): Promise<TlsStandIn> {
  const dir = tempDir(t);
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      ...[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
      ],
      ...["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
      ...["-keyout", key, "-out", cert],
    ],
    { stdio: "ignore" },
  );
  const seen: TlsStandIn["seen"] = [];
  const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    seen.push({
      path: req.url ?? "",
      headers: req.headers,
      encrypted: (req.socket as TLSSocket).encrypted === true,
    });
    res.setHeader("content-type", "application/json");
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401);
      res.end(JSON.stringify({ error: "unauthorized: a valid API token is required" }));
    } else if (req.url === "/proxy/me") {
      res.end(
        JSON.stringify({
          name: "tess",
          role: "user",
          policy: null,
          expires_at: null,
          models: ["llama3:latest"],
        }),
      );
    } else {
      res.end(JSON.stringify({ models: [] }));
    }
  });
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(async () => {
    const closed = new Promise((r) => server.close(r));
    for (const s of sockets) s.destroy();
    await closed;
  });
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, cert, seen };
}

test("login --ca trusts a private CA, remembers it, and whoami and connect use it", async (t) => {
  const { credentials } = clientHome(t);
  const tls = await startTlsStandIn(t);

  const untrusted = await login(tls.url, TOKEN);
  assert.equal(untrusted.code, 1);
  assert.equal(
    untrusted.err,
    `ollama-proxy: the TLS certificate of ${tls.url} is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT): if it comes ` +
      `from a private CA, run \`ollama-proxy login ${tls.url} --ca CA.pem\` with that CA's certificate; nothing was stored`,
  );
  assert.equal(existsSync(credentials), false);

  const r = await login(tls.url, TOKEN, ["--ca", tls.cert]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.split("\n")[0], `Logged in to ${tls.url} as tess (user).`);
  assert.deepEqual(JSON.parse(readFileSync(credentials, "utf8")), {
    url: tls.url,
    token: TOKEN,
    ca: tls.cert,
  });

  const who = await runClient(["whoami", "--json"]);
  assert.equal(who.code, 0, who.err);
  assert.equal(JSON.parse(who.out).name, "tess");

  const door = await startConnect(t);
  const res = await fetch(`${door.url}/api/tags`, { headers: { authorization: "Bearer wrong" } });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { models: [] });
  const last = tls.seen.at(-1)!;
  assert.equal(last.path, "/api/tags");
  assert.equal(last.encrypted, true);
  assert.equal(last.headers.authorization, `Bearer ${TOKEN}`);
});

test("--ca refuses a file that is not a PEM certificate", async (t) => {
  const { credentials } = clientHome(t);
  const dir = tempDir(t);
  const notPem = join(dir, "ca.txt");
  writeFileSync(notPem, "hello\n");
  const r = await login("https://127.0.0.1:1", TOKEN, ["--ca", notPem]);
  assert.equal(r.code, 64);
  assert.equal(
    r.err.split("\n")[0],
    `ollama-proxy: ${notPem} does not hold a PEM certificate (-----BEGIN CERTIFICATE-----)`,
  );
  const missing = await login("https://127.0.0.1:1", TOKEN, ["--ca", join(dir, "none.pem")]);
  assert.equal(missing.code, 64);
  assert.equal(
    missing.err.split("\n")[0],
    `ollama-proxy: cannot read the CA file ${join(dir, "none.pem")}: ENOENT`,
  );
  assert.equal(existsSync(credentials), false);
});
