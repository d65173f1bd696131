import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { Readable } from "node:stream";
import test from "node:test";
import { clientHome, runClient } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// --token-stdin is for scripts and password managers: `pass olp | ollama-proxy login URL --token-stdin`.
// A token never comes from argv, where shell history and `ps` would keep it.

const piped = (...chunks: string[]) => Readable.from(chunks.map((c) => Buffer.from(c)));

test("--token-stdin reads the token from a pipe, with or without a line end", async (t) => {
  const { credentials } = clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);

  const half = Math.floor(proxy.userToken.length / 2);
  for (const input of [
    piped(`${proxy.userToken}\n`),
    piped(proxy.userToken),
    piped(proxy.userToken.slice(0, half), `${proxy.userToken.slice(half)}\r\n`),
  ]) {
    const r = await runClient(["login", proxy.url, "--token-stdin"], input);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(readFileSync(credentials, "utf8")).token, proxy.userToken);
  }
});

test("stdin that holds no single token, or a token in argv, is refused before the proxy is asked", async (t) => {
  const { credentials } = clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  const url = proxy.url;

  const cases: [string[], Readable, string][] = [
    [["login", url, "--token-stdin"], piped(""), "ollama-proxy: no token on stdin: nothing was stored"],
    [["login", url, "--token-stdin"], piped("  \n"), "ollama-proxy: no token on stdin: nothing was stored"],
    [
      ["login", url, "--token-stdin"],
      piped("olp_one\nolp_two\n"),
      "ollama-proxy: the token on stdin is not one word of printable characters (it has spaces, line breaks or control characters): nothing was stored",
    ],
    [
      ["login", url, "--token-stdin"],
      piped("x".repeat(5000)),
      "ollama-proxy: stdin holds more than 4096 bytes: --token-stdin expects the token alone",
    ],
    [
      ["login", url, proxy.userToken],
      piped(""),
      "ollama-proxy: login takes no token on the command line (it would stay in your shell history and show in `ps`): leave it out and paste it when asked, or pipe it in with --token-stdin",
    ],
    [
      // No terminal to ask on, and no --token-stdin.
      ["login", url],
      piped(`${proxy.userToken}\n`),
      "ollama-proxy: no terminal to ask for the token on: pipe it in with --token-stdin, e.g. `ollama-proxy login URL --token-stdin < token.txt`",
    ],
    [
      ["login", "ftp://gpu.example.com", "--token-stdin"],
      piped(`${proxy.userToken}\n`),
      'ollama-proxy: "ftp://gpu.example.com": only http:// and https:// URLs are supported',
    ],
    [
      ["login", "http://gpu.example.com:99999", "--token-stdin"],
      piped(`${proxy.userToken}\n`),
      'ollama-proxy: "http://gpu.example.com:99999" is not a URL: give the proxy\'s address, e.g. https://gpu.example.com or gpu.example.com:11434',
    ],
    [
      [`login`, `${url}?x=1`, "--token-stdin"],
      piped(`${proxy.userToken}\n`),
      `ollama-proxy: "${url}?x=1": the URL may not have a ?query or #fragment`,
    ],
    [
      ["login", url, "--token-stdin", "--ca", "/nonexistent/ca.pem"],
      piped(`${proxy.userToken}\n`),
      `ollama-proxy: --ca applies to https:// URLs only; ${url} is plain HTTP`,
    ],
  ];
  for (const [argv, stdin, message] of cases) {
    const r = await runClient(argv, stdin);
    assert.equal(r.code, 64, argv.join(" "));
    assert.equal(r.err.split("\n")[0], message);
    assert.ok(!r.err.includes(proxy.userToken), "a token is never echoed back");
    assert.equal(existsSync(credentials), false);
  }
});
