import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { makeTlsPair } from "./fixtures/tls-pair.js";
import { runCli, section, tempDir, writeConfig } from "./helpers.js";

// With `tls`, `health` probes https://: from the config (or the address the running server
// recorded) it trusts the configured certificate when it is self-signed and checks its chain,
// not its name (the server's own bound address need not be one the certificate names);
// with --url it checks everything, trusting what --ca names.

test("health over HTTPS: from the config, and with --url and --ca", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const dir = tempDir(t);
  const pair = makeTlsPair(dir, "proxy", { names: "DNS:gpu.example.com,DNS:localhost" });
  const { file } = writeConfig(
    dir,
    section([backend], { tls: { cert: pair.cert, key: pair.key }, logging: { level: "info", dir: null } }),
  );
  const proxy = await spawnProxy(t, file);
  const port = new URL(proxy.url).port;

  const own = await runCli(["health", "--config", file, "--env", "test", "--json"]);
  assert.equal(own.code, 0, own.out + own.err);
  assert.equal(JSON.parse(own.out).status, "ok");
  const table = await runCli(["health", "--config", file, "--env", "test"]);
  assert.match(table.out, new RegExp(`^ok — ollama-proxy \\S+ at https://127\\.0\\.0\\.1:${port}, up `));

  const untrusted = await runCli(["health", "--url", `https://localhost:${port}`]);
  assert.equal(untrusted.code, 2);
  assert.equal(
    untrusted.out,
    `unreachable: https://localhost:${port}/health (DEPTH_ZERO_SELF_SIGNED_CERT: the proxy's certificate is not trusted; pass --ca with the CA that signed it (or the certificate itself, when self-signed))`,
  );

  const trusted = await runCli(["health", "--url", `https://localhost:${port}`, "--ca", pair.cert, "--json"]);
  assert.equal(trusted.code, 0, trusted.out);
  assert.equal(JSON.parse(trusted.out).status, "ok");

  const wrongName = await runCli(["health", "--url", `https://127.0.0.1:${port}`, "--ca", pair.cert]);
  assert.equal(wrongName.code, 2);
  assert.equal(
    wrongName.out,
    `unreachable: https://127.0.0.1:${port}/health (ERR_TLS_CERT_ALTNAME_INVALID: the proxy's certificate is not for 127.0.0.1; use a name it has in --url)`,
  );

  const plain = await runCli(["health", "--url", `http://127.0.0.1:${port}`]);
  assert.equal(plain.code, 2);
  assert.match(
    plain.out,
    new RegExp(
      `^unreachable: http://127\\.0\\.0\\.1:${port}/health \\(\\w+: if the proxy serves HTTPS \\(tls in its config\\), use an https:// address\\)$`,
    ),
  );

  const badCa = await runCli(["health", "--url", `https://localhost:${port}`, "--ca", file]);
  assert.equal(badCa.code, 64);
  assert.equal(
    badCa.err.split("\n")[0],
    `ollama-proxy: --ca: ${file} does not hold a PEM certificate (-----BEGIN CERTIFICATE-----)`,
  );
  assert.equal(await proxy.stop(), 0);
});
