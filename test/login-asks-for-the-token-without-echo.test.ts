import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import test from "node:test";
import { clientHome, fakeTerminal, runClient } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// On a terminal, login asks for the token with echo off (raw mode, nothing written back),
// and line editing still works: a mistyped character can be erased before Enter.

test("login asks on the terminal without echo and restores the terminal", async (t) => {
  const { credentials } = clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  const tty = fakeTerminal();

  const running = runClient(["login", proxy.url], tty);
  // Typed with a slip erased by backspace, then Enter (a terminal in raw mode sends \r).
  tty.write(proxy.userToken.slice(0, 10));
  tty.write("X\x7f");
  tty.write(`${proxy.userToken.slice(10)}\r`);
  const r = await running;

  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, `API token for ${proxy.url} (input is hidden; paste it and press Enter):`);
  assert.ok(!r.out.includes(proxy.userToken.slice(0, 10)), "nothing typed is echoed");
  assert.deepEqual(tty.rawModes, [true, false], "raw mode on while asking, off after");
  assert.equal(JSON.parse(readFileSync(credentials, "utf8")).token, proxy.userToken);
});

test("Ctrl-C at the prompt cancels login and stores nothing", async (t) => {
  const { credentials } = clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  const tty = fakeTerminal();

  const running = runClient(["login", proxy.url], tty);
  tty.write("olp_half");
  tty.write("\x03");
  const r = await running;
  assert.equal(r.code, 130);
  assert.equal(r.err.split("\n").at(-1), "ollama-proxy: login cancelled: no token given");
  assert.deepEqual(tty.rawModes, [true, false]);
  assert.equal(existsSync(credentials), false);
});

test("--token-stdin on a terminal is refused: the token would show as it is typed", async (t) => {
  const { credentials } = clientHome(t);
  const r = await runClient(["login", "http://127.0.0.1:1", "--token-stdin"], fakeTerminal());
  assert.equal(r.code, 64);
  assert.equal(
    r.err.split("\n")[0],
    "ollama-proxy: --token-stdin reads the token from a pipe; on a terminal, leave it out to be asked without echo",
  );
  assert.equal(existsSync(credentials), false);
});
