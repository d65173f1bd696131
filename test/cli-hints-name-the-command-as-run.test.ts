import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { stringify } from "yaml";
import { commandName } from "../lib/cli/io.js";
import { runCliProcess } from "./fixtures/run-cli-process.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { ROOT, tempDir } from "./helpers.js";

// `npm install && npm start` in a checkout puts no `ollama-proxy` on PATH: the first-run hint
// must be a command that works there (`node bin/ollama-proxy ...`, with the same --config and
// --env as the start), and plain `ollama-proxy` where the shell does find it.

function emptyConfig(t: Parameters<typeof tempDir>[0]): string {
  const dir = tempDir(t);
  const file = join(dir, "config.yml");
  writeFileSync(
    file,
    stringify({
      test: { bind: "127.0.0.1", servers: {}, database: join(dir, "p.sqlite3"), logging: { dir: null } },
    }),
  );
  return file;
}

test("serve from a checkout tells the user to run `node bin/ollama-proxy users create` with its own flags", async (t) => {
  const file = emptyConfig(t);
  const proxy = await spawnProxy(t, file, "test", {}, { cwd: ROOT });
  // The hint follows the "listening" line and may arrive in a later chunk: read after the exit.
  assert.equal(await proxy.stop(), 0);
  assert.match(
    proxy.stderr(),
    new RegExp(
      `no users yet: create one with \`node bin/ollama-proxy users create NAME --admin --config ${file.replaceAll(/[.*+?^${}()|[\]\\/]/g, "\\$&")} --env test\``,
    ),
  );
});

test("where `ollama-proxy` on PATH is this CLI, the hint says just `ollama-proxy`", async (t) => {
  const file = emptyConfig(t);
  const bin = join(tempDir(t), "bin");
  mkdirSync(bin);
  symlinkSync(join(ROOT, "bin/ollama-proxy"), join(bin, "ollama-proxy"));
  const onPath = await runCliProcess(["users", "list", "--config", file, "--env", "test"], {
    env: { PATH: `${bin}:${process.env.PATH}` },
    cwd: ROOT,
  });
  assert.equal(onPath.code, 0, onPath.stderr);
  assert.equal(
    onPath.stdout.trim(),
    "No users yet. Create one with: ollama-proxy users create NAME [--admin]",
  );
  const notOnPath = await runCliProcess(["users", "list", "--config", file, "--env", "test"], {
    env: { PATH: "/usr/bin:/bin" },
    cwd: ROOT,
  });
  assert.equal(
    notOnPath.stdout.trim(),
    "No users yet. Create one with: node bin/ollama-proxy users create NAME [--admin]",
  );
});

test("commandName: a path outside the working folder is written whole; no script means `ollama-proxy`", (t) => {
  const dir = tempDir(t);
  const script = join(dir, "cli.js");
  writeFileSync(script, "");
  const argv = (s?: string) => (s === undefined ? ["node"] : ["node", s]);
  assert.equal(commandName(argv(script), "/usr/bin", "/"), `node ${script.slice(1)}`);
  assert.equal(commandName(argv(script), "/usr/bin", join(dir, "sub")), `node ${script}`);
  assert.equal(commandName(argv(script), "/usr/bin", dir), "node cli.js");
  // `node -e`: argv[1] is the first argument, not a file.
  assert.equal(commandName(argv("serve"), "/usr/bin", dir), "ollama-proxy");
  assert.equal(commandName(argv(), "/usr/bin", dir), "ollama-proxy");
});
