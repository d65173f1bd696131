import assert from "node:assert/strict";
import test from "node:test";
import { clientHome, login, runClient, startConnect } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// connect adds the user's token to whatever reaches it, so it listens on loopback only. Any
// other address needs --allow-remote, and then it warns.

test("a non-loopback --listen is refused without --allow-remote, before anything is read", async (t) => {
  clientHome(t); // not even logged in: the address is checked first
  for (const listen of ["0.0.0.0:11434", "192.168.1.10:11434", "[::]:11434", "gpu.example.com:11434"]) {
    const r = await runClient(["connect", "--listen", listen]);
    assert.equal(r.code, 64, listen);
    assert.equal(
      r.err.split("\n")[0],
      `ollama-proxy: --listen ${listen} is not a loopback address: anyone who can reach it would use the proxy with your token. ` +
        "Listen on 127.0.0.1 (or ::1), or add --allow-remote if that is what you want",
    );
    assert.equal(r.out, "");
  }
  for (const listen of ["127.0.0.1", "127.0.0.1:99999", "[localhost]:80", "host:port"]) {
    const r = await runClient(["connect", "--listen", listen]);
    assert.equal(r.code, 64, listen);
    assert.equal(
      r.err.split("\n")[0],
      `ollama-proxy: --listen "${listen}" is not HOST:PORT (e.g. 127.0.0.1:11434 or [::1]:11434)`,
    );
  }
});

test("--allow-remote listens beyond loopback and warns who can use the token", async (t) => {
  clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);

  const door = await startConnect(t, { listen: "0.0.0.0:0", allowRemote: true });
  const port = door.hostPort.split(":").at(-1);
  assert.equal(door.hostPort, `0.0.0.0:${port}`);
  assert.deepEqual(door.stderr, [
    `warning: listening on 0.0.0.0:${port}, beyond this machine (--allow-remote): anyone who can reach it ` +
      "uses the proxy as alice (user) without a token of their own",
  ]);
  assert.equal((await fetch(`http://127.0.0.1:${port}/api/tags`)).status, 200);
  assert.equal(await door.stop(), 0);
});
