import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { addUser, post, section, tempDir, waitFor, writeConfig } from "./helpers.js";

// The app log's disk fills up (ENOSPC, here a 64 KB tmpfs): the proxy keeps serving, /health
// says degraded, the lines go to stderr instead, nothing crashes and memory stays flat.
// Mounting a tmpfs needs root (CI runs as root); elsewhere the test says so and skips.

const root = process.getuid?.() === 0;

test("a full log disk degrades /health but never stops the proxy", {
  skip: root ? false : "needs root to mount a tiny tmpfs",
}, async (t) => {
  const dir = tempDir(t);
  // Its own folder, unmounted and removed in one hook (tempDir's removal would meet a busy mount).
  const logDir = mkdtempSync(join(tmpdir(), "olp-tiny-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", logDir]);
  t.after(() => {
    execFileSync("umount", ["-l", logDir]);
    rmSync(logDir, { recursive: true, force: true });
  });

  const backend = await startFakeOllama({ name: "gpu" });
  t.after(() => backend.close());
  const { file, config } = writeConfig(dir, section([backend], { logging: { level: "info", dir: logDir } }));
  const auth = addUser(config.database);
  const proxy = await spawnProxy(t, file);
  const rss = () => proxy.rssMb();

  const burst = async (n: number) => {
    for (let i = 0; i < n; i += 20) {
      const rs = await Promise.all(
        Array.from({ length: 20 }, () =>
          post(`${proxy.url}/api/generate`, { model: "llama3", prompt: "x", stream: false }, auth),
        ),
      );
      for (const r of rs) assert.equal(r.status, 200);
    }
  };
  await burst(400); // far more lines than 64 KB holds
  await waitFor("the app log to report the full disk", async () => {
    const h = (await (await fetch(`${proxy.url}/health`)).json()) as {
      components: { name: string; ok: boolean }[];
    };
    return h.components.some((c) => c.name === "app_log" && !c.ok);
  });
  const health = await fetch(`${proxy.url}/health`);
  assert.equal(health.status, 200);
  const report = (await health.json()) as {
    status: string;
    components: { name: string; detail?: { error: string } }[];
  };
  assert.equal(report.status, "degraded");
  assert.match(report.components.find((c) => c.name === "app_log")?.detail?.error ?? "", /ENOSPC/);
  assert.match(proxy.stderr(), /app log cannot be written; logging to stderr from now on/);

  // Lines that cannot be written must not pile up in memory. The first burst after the switch
  // to stderr pays one-off costs (that path compiled, its buffers sized); the next one shows
  // whether memory grows with the lines.
  await burst(400);
  const before = rss();
  await burst(400);
  const growth = rss() - before;
  assert.ok(growth < 20, `RSS grew ${growth.toFixed(1)} MB while the disk was full`);
  assert.match(proxy.stderr(), /"msg":"request"/, "request lines now reach stderr");
  assert.equal(await proxy.stop(), 0);
});
