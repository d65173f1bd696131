import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { runCli, section, tempDir, writeConfig } from "./helpers.js";

// A model is never pulled onto a server whose max_memory_gb it does not fit without a word:
// a server named for it refuses (exit 1, the reason printed), --force pulls anyway saying
// what it overrides, and --all leaves such a server out and says why.

test("a pull that does not fit max_memory_gb: refused when named, pulled with --force, skipped with --all", async (t) => {
  // What they pull is 8 GB (the size their /api/tags reports afterwards).
  const big = await startFakeOllama({ name: "big", models: [], behaviour: { pullBytes: 8e9 } });
  const small = await startFakeOllama({ name: "small", models: [], behaviour: { pullBytes: 8e9 } });
  t.after(() => Promise.all([big.close(), small.close()]));
  const base = section([big, small]);
  const { file, config } = writeConfig(tempDir(t), {
    ...base,
    servers: {
      ...(base.servers as object),
      small: { host: "127.0.0.1", port: small.port, max_memory_gb: 4 },
    },
    model_config: { memory_patterns: [{ pattern: ":8b$", memory_gb: 8 }] },
  });
  const args = ["--config", file, "--env", "test"];
  const pulls = (f: typeof big) => f.work().filter((w) => w.path === "/api/pull").length;
  const jsonLines = (out: string) => out.split("\n").map((l) => JSON.parse(l));
  const fit = `llama3.1:8b needs about 8 GB (memory_patterns ":8b$") and small's max_memory_gb is 4`;

  const named = await runCli(["models", "pull", "llama3.1:8b", "--servers", "small", ...args]);
  assert.equal(named.code, 1);
  const refused = `${fit} (--force to pull anyway)`;
  assert.deepEqual(jsonLines(named.out), [{ server: "small", result: "refused", reason: refused }]);
  assert.equal(named.err, `ollama-proxy: pull of llama3.1:8b failed on small (refused: ${refused})`);
  assert.equal(pulls(small), 0, "nothing was asked of small");

  const forced = await runCli(["models", "pull", "llama3.1:8b", "--servers", "small", "--force", ...args]);
  assert.equal(forced.code, 0, forced.err);
  const forcedLines = jsonLines(forced.out);
  assert.deepEqual(forcedLines[0], { server: "small", forced: fit });
  assert.equal(forcedLines.at(-1).result, "success");
  assert.equal(pulls(small), 1);
  assert.ok(small.models.some((m) => m.name === "llama3.1:8b"));

  const all = await runCli(["models", "pull", "llama3.1:8b", "--all", ...args]);
  assert.equal(all.code, 0, all.err);
  const lines = jsonLines(all.out);
  // Now that a server has it, its size is known, and the reason says so.
  assert.deepEqual(lines[0], {
    server: "small",
    result: "skipped",
    reason:
      "llama3.1:8b needs about 8 GB (size reported by /api/tags) and small's max_memory_gb is 4 (--force to pull anyway)",
  });
  assert.deepEqual([lines.at(-1).server, lines.at(-1).result], ["big", "success"]);
  assert.equal(pulls(big), 1);
  assert.equal(pulls(small), 1, "only the forced pull reached small");
  assert.ok(!existsSync(config.database), "from the config, models opens no database (and creates none)");
});
