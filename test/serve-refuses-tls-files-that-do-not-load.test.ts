import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { makeTlsPair } from "./fixtures/tls-pair.js";
import { ROOT, section, tempDir, writeConfig } from "./helpers.js";

// `serve` with TLS files that do not load stops at once, in one line an operator can act on
// (exit 78, as for a bad config), before it opens the database or the log. A certificate that
// expires soon starts, with a warning.

function serve(file: string) {
  const r = spawnSync(
    process.execPath,
    [join(ROOT, "bin/ollama-proxy"), "serve", "--config", file, "--env", "test", "--port", "0"],
    { encoding: "utf8", timeout: 20_000 },
  );
  return { code: r.status, stderr: r.stderr };
}

test("a missing key: exit 78, one line, no database created", (t) => {
  const dir = tempDir(t);
  const pair = makeTlsPair(dir);
  const key = join(dir, "missing.key");
  const { file, config } = writeConfig(dir, {
    servers: { gpu1: { host: "127.0.0.1", port: 1 } },
    logging: { level: "info", dir: null },
    tls: { cert: pair.cert, key },
  });
  const r = serve(file);
  assert.equal(r.code, 78);
  assert.equal(r.stderr, `ollama-proxy: cannot serve HTTPS: tls.key: ${key} does not exist (ENOENT)\n`);
  assert.equal(existsSync(config.database), false);
});

test("run as root: a key only root can read stops serve, which reads it as the data folder's owner", {
  skip: process.getuid?.() !== 0 && "needs root to give the database folder to another user",
}, (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const db = join(dir, "db");
  mkdirSync(db, { mode: 0o750 });
  chownSync(db, 65534, 65534);
  const pair = makeTlsPair(dir);
  chmodSync(pair.cert, 0o644);
  chmodSync(pair.key, 0o600);
  const { file } = writeConfig(dir, {
    database: join(db, "proxy.sqlite3"),
    servers: { gpu1: { host: "127.0.0.1", port: 1 } },
    logging: { level: "info", dir: null },
    tls: { cert: pair.cert, key: pair.key },
  });
  chmodSync(file, 0o644);
  const r = serve(file);
  assert.equal(r.code, 78);
  assert.equal(
    r.stderr,
    `ollama-proxy: cannot serve HTTPS: tls.key: ${pair.key} is not readable by user nobody (uid 65534) (EACCES): let that user read it (the .deb's service runs as ollama: \`chgrp ollama ${pair.key} && chmod g+r ${pair.key}\`), and search every folder above it\n`,
  );
});

test("a certificate that expires in ten days: serve starts on https:// and warns", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const dir = tempDir(t);
  const pair = makeTlsPair(dir, "proxy", { days: 10 });
  const { file } = writeConfig(
    dir,
    section([backend], { tls: { cert: pair.cert, key: pair.key }, logging: { level: "info", dir: null } }),
  );
  const proxy = await spawnProxy(t, file);
  assert.match(proxy.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.match(
    proxy.stderr(),
    new RegExp(
      `^warning: test\\.tls\\.cert: the certificate ${pair.cert} expires in 9 day\\(s\\), on .*: renew it, then reload \\(SIGHUP\\)\\n`,
    ),
  );
  assert.match(proxy.stderr(), /ollama-proxy \S+ listening on https:\/\/127\.0\.0\.1:\d+ \[test\]/);
  assert.equal(await proxy.stop(), 0);
});
