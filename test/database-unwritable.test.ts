import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { main } from "../lib/cli/main.js";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { addUser, post, section, tempDir, waitFor, writeConfig } from "./helpers.js";

// A database the proxy cannot write. At start (its file system read-only: root ignores file
// modes, so a read-only mount is the honest way here; or its folder missing): a clear message
// naming the file and a non-zero exit. While running (a file system cannot be remounted
// read-only under open files, so here the disk fills up — the writes fail the same way):
// requests are still served, /health says degraded.

const root = process.getuid?.() === 0;
const skip = root ? false : "needs root to mount and remount a tmpfs";

function tmpfs(t: TestContext): { dir: string; readOnly(): void; fill(): void } {
  const dir = mkdtempSync(join(tmpdir(), "olp-db-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dir]);
  t.after(() => {
    execFileSync("umount", ["-l", dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    readOnly: () => execFileSync("mount", ["-o", "remount,ro", dir]),
    // dd stops with an error at the end of the space, having used all of it.
    fill: () => spawnSync("dd", ["if=/dev/zero", `of=${join(dir, "filler")}`, "bs=64k"]),
  };
}

test("serve stops at start with the database's path when it cannot write the database", {
  skip,
}, async (t) => {
  const fs = tmpfs(t);
  const db = join(fs.dir, "proxy.sqlite3");
  openStore(db).close();
  fs.readOnly();
  const dir = tempDir(t);
  const { file } = writeConfig(dir, { ...section([]), database: db });
  const err: string[] = [];
  const code = await main(["serve", "--config", file, "--env", "test", "--port", "0"], {
    out: () => {},
    err: (s) => err.push(s),
  });
  assert.equal(code, 1);
  assert.match(
    err.join("\n"),
    new RegExp(`cannot open database ${db.replaceAll("/", "\\/")}: .*(read-only|EROFS)`),
  );

  const missing = join(fs.dir, "no-such-folder", "proxy.sqlite3");
  const { file: file2 } = writeConfig(tempDir(t), { ...section([]), database: missing });
  const err2: string[] = [];
  assert.equal(
    await main(["serve", "--config", file2, "--env", "test", "--port", "0"], {
      out: () => {},
      err: (s) => err2.push(s),
    }),
    1,
  );
  assert.match(err2.join("\n"), new RegExp(`cannot open database ${missing.replaceAll("/", "\\/")}`));
});

test("a database that cannot be written while running: requests still served, /health degraded", {
  skip,
}, async (t) => {
  const fs = tmpfs(t);
  const backend = await startFakeOllama({ name: "gpu" });
  t.after(() => backend.close());
  const dir = tempDir(t);
  const { file, config } = writeConfig(dir, {
    ...section([backend]),
    database: join(fs.dir, "proxy.sqlite3"),
  });
  const auth = addUser(config.database);
  const proxy = await spawnProxy(t, file);
  const ask = () => post(`${proxy.url}/api/generate`, { model: "llama3", prompt: "x", stream: false }, auth);
  assert.equal((await ask()).status, 200);

  fs.fill();
  for (let i = 0; i < 20; i++) assert.equal((await ask()).status, 200);
  await waitFor("/health to report the request log degraded", async () => {
    const h = (await (await fetch(`${proxy.url}/health`)).json()) as {
      status: string;
      components: { name: string; ok: boolean }[];
    };
    return h.status === "degraded" && h.components.some((c) => c.name === "request_log" && !c.ok);
  });
  assert.equal((await fetch(`${proxy.url}/health`)).status, 200);
  assert.equal((await ask()).status, 200);
});
