import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { stringify } from "yaml";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { ROOT, runCli, section, tempDir } from "./helpers.js";

// `serve` writes the address it really bound to a runtime file in its state folder (the
// database's) and removes it on exit; `health` without --url probes that address, so that a
// proxy_port edited but not yet applied, or a config file caught mid-edit, does not make it
// probe the wrong place. With neither a usable config nor a runtime file it says exactly
// what it could not read.

/** A port nothing listens on: taken from the kernel, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

/** `ollama-proxy health` as its own process, in `cwd` (a checkout's db/ is relative to it). */
function healthIn(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin/ollama-proxy"), "health", ...args], {
    cwd,
    encoding: "utf8",
  });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

test("health probes the address the running server recorded, whatever the config says now", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const dir = tempDir(t);
  mkdirSync(join(dir, "db"));
  const file = join(dir, "config.yml");
  const config = {
    ...section([backend], { logging: { level: "warn", dir: null } }),
    // Relative, as in a checkout: db/ under the working folder.
    database: "db/test.sqlite3",
    proxy_port: await closedPort(),
  };
  writeFileSync(file, stringify({ test: config }));
  const proxy = await spawnProxy(t, file, "test", {}, { cwd: dir });
  const runtime = join(dir, "db", "ollama-proxy-test.runtime.json");
  const info = JSON.parse(readFileSync(runtime, "utf8"));
  assert.equal(info.url, proxy.url);
  assert.equal(info.pid, proxy.child.pid);
  assert.equal(info.env, "test");
  assert.equal(info.config, file);
  assert.match(info.started_at, /^\d{4}-\d\d-\d\dT/);

  // The config's proxy_port is not where the server listens (--port 0): the runtime file wins.
  const ok = healthIn(dir, "--config", file, "--env", "test");
  assert.equal(ok.code, 0, `${ok.out}\n${ok.err}`);
  assert.match(ok.out, new RegExp(`^ok — ollama-proxy \\S+ at ${proxy.url.replaceAll(".", "\\.")},`));

  // Mid-edit: a value that does not validate; the state folder is still named in the file.
  writeFileSync(file, stringify({ test: { ...config, proxy_port: "eleven" } }));
  const invalid = healthIn(dir, "--config", file, "--env", "test");
  assert.equal(invalid.code, 0, `${invalid.out}\n${invalid.err}`);
  assert.match(
    invalid.err,
    /^note: the config .* \[test\] cannot be used \(test\.proxy_port: must be integer\); probing the address the running server recorded in .*ollama-proxy-test\.runtime\.json$/,
  );

  // Mid-edit: not even YAML; a checkout's db/ under the working folder still tells.
  writeFileSync(file, "test:\n  servers: [unclosed\n");
  const broken = healthIn(dir, "--config", file, "--env", "test");
  assert.equal(broken.code, 0, `${broken.out}\n${broken.err}`);
  assert.match(broken.out, /^ok — /);

  // Stopped: the file is gone, and nothing else tells where a server would be.
  assert.equal(await proxy.stop(), 0);
  assert.equal(existsSync(runtime), false, "removed on exit");
  const gone = healthIn(dir, "--config", file, "--env", "test");
  assert.equal(gone.code, 2);
  assert.match(
    gone.out,
    /^unknown: cannot tell where ollama-proxy listens: the config .*config\.yml \[test\] cannot be used \(.*\); /,
  );
  assert.match(
    gone.out,
    new RegExp(`no ${join(dir, "db", "ollama-proxy-test.runtime.json").replaceAll(".", "\\.")}`),
  );
  assert.match(gone.out, /no \/var\/lib\/ollama-proxy\/ollama-proxy-test\.runtime\.json/);
  assert.match(gone.out, /\. Pass --url\.$/);
});

test("a runtime file whose process is gone: the config's address is probed, and the note says why", async (t) => {
  const dir = tempDir(t);
  const port = await closedPort();
  const file = join(dir, "config.yml");
  writeFileSync(file, stringify({ test: { proxy_port: port, database: join(dir, "proxy.sqlite3") } }));
  // What a server killed with SIGKILL leaves behind: a pid that no longer runs.
  const dead = spawnSync(process.execPath, ["-e", "0"]).pid;
  writeFileSync(
    join(dir, "ollama-proxy-test.runtime.json"),
    JSON.stringify({ url: "http://127.0.0.1:1", pid: dead, env: "test", config: file }),
  );
  const r = await runCli(["health", "--config", file, "--env", "test"]);
  assert.equal(r.code, 2);
  assert.equal(r.out, `unreachable: http://127.0.0.1:${port}/health (ECONNREFUSED)`);
  assert.match(
    r.err,
    new RegExp(
      `^note: .*ollama-proxy-test\\.runtime\\.json names pid ${dead}, which is not running; probing the config's address$`,
    ),
  );
});
