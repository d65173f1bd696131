import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { parseExposition, value } from "./fixtures/prometheus.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { makeTlsPair, servedFingerprint } from "./fixtures/tls-pair.js";
import { section, tempDir, waitFor, writeConfig } from "./helpers.js";

// A renewal that went wrong (a key of another pair, a truncated file) and a SIGHUP: the
// running certificate stays, and the failure is in the foreground output, the app log,
// /health's last reload and the reload gauge. Fixing the files and reloading again applies.

interface Health {
  config: { last_reload: null | { ok: boolean; error?: string; applied?: string[] } };
}

/** GET over HTTPS trusting `cert`; the body. */
function getText(url: string, cert: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = request(url, { ca: readFileSync(cert) }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => {
        text += c.toString();
      });
      res.on("end", () => resolve(text));
    });
    r.on("error", reject);
    r.end();
  });
}

test("a key that is not the certificate's on reload: the old pair stays and the failure is reported", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const dir = tempDir(t);
  const live = makeTlsPair(dir, "live");
  const other = makeTlsPair(dir, "other");
  const { file } = writeConfig(
    dir,
    section([backend], { tls: { cert: live.cert, key: live.key }, logging: { level: "info", dir: null } }),
  );
  const proxy = await spawnProxy(t, file);
  const health = async () => JSON.parse(await getText(`${proxy.url}/health`, live.cert)) as Health;
  const gauge = async () =>
    value(
      parseExposition(await getText(`${proxy.url}/metrics`, live.cert)),
      "ollama_proxy_config_last_reload_successful",
    );

  const liveKey = readFileSync(live.key);
  copyFileSync(other.key, live.key);
  proxy.child.kill("SIGHUP");
  await waitFor("the failed certificate in the reload line", () =>
    /could not apply tls/.test(proxy.stderr()),
  );
  assert.match(
    proxy.stderr(),
    new RegExp(
      `config reloaded from .*: nothing changed\\n {2}could not apply tls; the running certificate stays: tls: the key ${live.key} does not belong to the certificate ${live.cert} \\(they are from different pairs\\)\\n`,
    ),
  );
  assert.equal(await servedFingerprint(proxy.url), live.fingerprint);
  const failed = await health();
  assert.equal(failed.config.last_reload?.ok, false);
  assert.match(
    failed.config.last_reload?.error ?? "",
    /^tls: tls: the key .* does not belong to the certificate/,
  );
  assert.match(proxy.stdout(), /"msg":"could not load the TLS certificate and key; the running pair stays"/);
  assert.equal(await gauge(), 0);

  // Half a file (a copy interrupted): not PEM either.
  writeFileSync(live.key, liveKey.subarray(0, 20));
  proxy.child.kill("SIGHUP");
  await waitFor("the second failure", () => /holds no PEM private key/.test(proxy.stderr()));
  assert.equal(await servedFingerprint(proxy.url), live.fingerprint);

  // Put right: the next reload applies (the pair served did not change, so nothing is named).
  writeFileSync(live.key, liveKey);
  proxy.child.kill("SIGHUP");
  await waitFor("a clean reload", async () => (await health()).config.last_reload?.ok === true);
  assert.equal(await gauge(), 1);
  assert.equal(await proxy.stop(), 0);
});
