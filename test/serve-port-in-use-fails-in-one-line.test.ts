import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { stringify } from "yaml";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { ROOT, tempDir } from "./helpers.js";

// A second `serve` on a port already taken (a restart racing the old instance, Ollama itself
// on proxy_port) fails in one line an operator can act on, exit 1, no stack trace — and
// writes nothing into the log, nor over the runtime file, of the instance that is running.

test("port in use: one line, exit 1, nothing in the running instance's log or runtime file", async (t) => {
  const dir = tempDir(t);
  const logDir = join(dir, "log");
  const file = join(dir, "config.yml");
  writeFileSync(
    file,
    stringify({
      test: {
        servers: {},
        database: join(dir, "proxy.sqlite3"),
        logging: { level: "debug", dir: logDir },
      },
    }),
  );
  const first = await spawnProxy(t, file);
  const port = Number(new URL(first.url).port);
  const runtime = join(dir, "ollama-proxy-test.runtime.json");
  const before = readFileSync(runtime, "utf8");

  const second = spawn(
    process.execPath,
    [join(ROOT, "bin/ollama-proxy"), "serve", "--config", file, "--env", "test", "--port", String(port)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  second.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  second.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const [code] = await once(second, "exit");
  assert.equal(code, 1, err);
  assert.equal(
    err,
    `ollama-proxy: port ${port} on 127.0.0.1 is in use (another ollama-proxy, or Ollama itself?)\n`,
  );
  assert.equal(out, "");
  assert.equal(readFileSync(runtime, "utf8"), before, "the running instance's runtime file is untouched");

  assert.equal(await first.stop(), 0);
  const lines = readFileSync(join(logDir, "test.log"), "utf8")
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.msg === "ollama-proxy started" && l.pid === first.child.pid));
  assert.deepEqual(
    lines.filter((l) => l.pid === second.pid),
    [],
    "the failed instance wrote no line (no 'server up', no 'listening') into the shared log",
  );
});
