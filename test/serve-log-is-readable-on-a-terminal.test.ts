import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { stringify } from "yaml";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { addUser, post, ROOT, section, tempDir, waitFor, writeConfig } from "./helpers.js";

// `serve` in a terminal prints its log for people — time, level, message, the fields that
// matter, one line per request — and every reload and shutdown; no JSON. The terminal is a
// real pseudo-terminal, made by util-linux `script`.

const hasScript = spawnSync("script", ["--version"]).status === 0;

test("on a terminal: readable lines, one per request, the reload and the shutdown", {
  skip: !hasScript && "needs script(1) from util-linux for a pseudo-terminal",
}, async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", models: [{ name: "llama3:latest" }] });
  t.after(() => backend.close());
  const dir = tempDir(t);
  const { file, config } = writeConfig(dir, section([backend], { logging: { level: "info", dir: null } }));
  const auth = addUser(config.database);
  const command = [
    process.execPath,
    join(ROOT, "bin/ollama-proxy"),
    "serve",
    "--config",
    file,
    "--env",
    "test",
    "--port",
    "0",
  ]
    .map((a) => `'${a}'`)
    .join(" ");
  // -q: no "Script started" banner; -f: flush as it comes; -e: script exits with serve's code.
  const child = spawn("script", ["-qfec", command, "/dev/null"], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", TZ: "UTC" },
  });
  t.after(() => child.kill("SIGKILL"));
  let tty = "";
  child.stdout.on("data", (d: Buffer) => {
    tty += d.toString();
  });
  const exited = once(child, "exit");
  await waitFor("serve listening", () => / listening on http:\S+/.test(tty), 20_000);
  const url = / listening on (http:\/\/[\d.:]+)/.exec(tty)![1]!;

  const r = await post(`${url}/api/generate`, { model: "llama3", prompt: "hi", stream: false }, auth);
  assert.equal(r.status, 200);
  await waitFor("the request line", () => / INFO {2}request /.test(tty) || /INFO\s+POST /.test(tty));
  const line = tty.split(/\r?\n/).find((l) => l.includes("POST /api/generate"));
  assert.match(
    line ?? tty,
    /^\d\d:\d\d:\d\d\.\d{3} INFO {2}POST \/api\/generate llama3:latest alice → gpu1 200 \d+ ms, ttft \d+ ms, 7\+3 tokens, \d+\.\d tok\/s$/,
  );
  assert.match(tty, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}ollama-proxy started version=\S+ url=http:/m);

  const pid = JSON.parse(readFileSync(join(dir, "ollama-proxy-test.runtime.json"), "utf8")).pid as number;
  writeFileSync(
    file,
    stringify({
      test: { ...section([backend], { logging: { level: "info", dir: null } }), database: config.database },
    }),
  );
  process.kill(pid, "SIGHUP");
  await waitFor("the reload line", () => /INFO {2}config reloaded /.test(tty));
  process.kill(pid, "SIGTERM");
  const [code] = await exited;
  assert.equal(code, 0, tty);
  assert.match(tty, /INFO {2}shutting down signal=SIGTERM active=0/);
  assert.match(tty, /INFO {2}stopped\r?\n/);
  assert.doesNotMatch(tty, /\{"level"/, "no JSON on the terminal");
});
