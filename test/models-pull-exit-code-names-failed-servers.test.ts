import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { runCli, section, tempDir, writeConfig } from "./helpers.js";

// A pull on several servers runs on all of them; the command exits non-zero when any failed
// — Ollama's in-band error, or a server that cannot be reached — and names each of them.
// Wrong arguments are usage errors (64) that say what the fleet has.

test("exit 1 naming every server whose pull failed, 0 when all succeeded, 64 for a server the fleet does not have", async (t) => {
  const good = await startFakeOllama({ name: "good", models: [], behaviour: { pullBytes: 1000 } });
  const full = await startFakeOllama({
    name: "full",
    models: [],
    behaviour: { pullBytes: 1000, pullError: "no space left on device" },
  });
  const gone = await startFakeOllama({ name: "gone", models: [] });
  t.after(() => Promise.all([good.close(), full.close(), gone.close()]));
  const { file } = writeConfig(tempDir(t), section([good, full, gone]));
  const args = ["--config", file, "--env", "test"];
  await gone.kill();

  const r = await runCli(["models", "pull", "phi4", "--all", ...args]);
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    /^ollama-proxy: pull of phi4 failed on full \(no space left on device\); gone \(cannot reach gone at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\)$/,
  );
  const results = r.out
    .split("\n")
    .map((l) => JSON.parse(l))
    .filter((l) => l.result !== undefined);
  assert.deepEqual(results.map((l) => [l.server, l.result]).sort(), [
    ["full", "failed"],
    ["gone", "failed"],
    ["good", "success"],
  ]);
  assert.ok(
    good.models.some((m) => m.name === "phi4:latest"),
    "the good server has it all the same",
  );

  const ok = await runCli(["models", "pull", "phi4", "--servers", "good", ...args]);
  assert.equal(ok.code, 0, ok.err);

  const unknown = await runCli(["models", "pull", "phi4", "--servers", "good,nope", ...args]);
  assert.equal(unknown.code, 64);
  assert.match(unknown.err, /no enabled server named "nope"; the fleet has: good, full, gone/);
  const both = await runCli(["models", "pull", "phi4", "--servers", "good", "--all", ...args]);
  assert.equal(both.code, 64);
  assert.match(both.err, /give --servers or --all, not both/);
});
