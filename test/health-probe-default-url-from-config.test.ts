import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { stringify } from "yaml";
import { main } from "../lib/cli/main.js";
import { captureIo } from "./fixtures/capture-io.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// Without --url the probe asks the proxy its config describes — on loopback when it binds
// every interface, as the packaged production config does — so `ollama-proxy health` alone
// works on the server it was installed on.

test("without --url, health asks 127.0.0.1 at the config's proxy_port when bind is 0.0.0.0", async (t) => {
  const a = await startFakeOllama({ name: "gpu1" });
  t.after(() => a.close());
  const proxy = await startProxy(t, [a]);
  await waitFor("gpu1 polled", async () => {
    const body = (await (await fetch(`${proxy.url}/health`)).json()) as { status: string };
    return body.status === "ok";
  });
  const file = join(proxy.dir, "probe.yml");
  writeFileSync(
    file,
    stringify({ production: { proxy_port: Number(new URL(proxy.url).port), bind: "0.0.0.0" } }),
  );

  const io = captureIo();
  assert.equal(await main(["health", "--config", file, "--env", "production"], io), 0);
  assert.match(io.stdout[0] ?? "", /^ok — /);
});
