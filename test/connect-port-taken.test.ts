import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import test from "node:test";
import { clientHome, login, spawnCli } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, tempDir } from "./helpers.js";

// The usual reason connect cannot listen is a local Ollama on 11434: connect says so and
// which --listen to use instead, and exits non-zero without a stack trace.

test("a port already in use stops connect with a clear message and exit 1", async (t) => {
  const { dir: home } = clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);

  const taken = createServer();
  taken.listen(0, "127.0.0.1");
  await once(taken, "listening");
  t.after(() => new Promise((r) => taken.close(r)));
  const port = (taken.address() as AddressInfo).port;

  const cli = spawnCli(t, ["connect", "--listen", `127.0.0.1:${port}`], {
    env: { ...process.env, XDG_CONFIG_HOME: home },
    cwd: tempDir(t),
  });
  assert.equal(await cli.exited, 1);
  assert.equal(
    cli.stderr(),
    `ollama-proxy: 127.0.0.1:${port} is already in use: pick another port with ` +
      `\`ollama-proxy connect --listen 127.0.0.1:${port + 1}\` and set OLLAMA_HOST=127.0.0.1:${port + 1}\n`,
  );
  assert.equal(cli.stdout(), "");
});
