import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { runCliProcess } from "./fixtures/run-cli-process.js";
import { startProxy, tempDir } from "./helpers.js";

// On a pipe or into a file, `models pull` writes plain JSON lines — Ollama's progress lines
// with the server's name, at most one a second per server and status, then one result per
// server — and no terminal control codes.

test("models pull into a pipe: JSON lines only, a result per server", async (t) => {
  const behaviour = { pullBytes: 2e9, pullSteps: 6, intervalMs: 20 };
  const a = await startFakeOllama({ name: "a", models: [], behaviour });
  const b = await startFakeOllama({ name: "b", models: [], behaviour });
  t.after(() => Promise.all([a.close(), b.close()]));
  const proxy = await startProxy(t, [a, b]);

  const run = await runCliProcess(["models", "pull", "phi4", "--servers", "a,b", "--url", proxy.url], {
    env: { OLLAMA_PROXY_TOKEN: proxy.adminToken, XDG_CONFIG_HOME: tempDir(t) },
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, "");
  assert.ok(!run.stdout.includes("\x1b"), "no control codes");
  const lines = run.stdout
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const server of ["a", "b"]) {
    const mine = lines.filter((l) => l.server === server);
    assert.deepEqual(mine[0], { server, status: "pulling manifest" });
    const progress = mine.find((l) => typeof l.completed === "number");
    assert.equal(progress?.total, 2e9);
    assert.match(String(progress?.digest), /^sha256:[0-9a-f]{64}$/);
    assert.ok(mine.some((l) => l.status === "success"));
    const result = mine.at(-1)!;
    assert.equal(result.result, "success");
    assert.equal(result.bytes, 2e9);
    assert.equal(typeof result.seconds, "number");
  }
});
