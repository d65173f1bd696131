import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { runCli, tempDir, writeConfig } from "./helpers.js";

// `route` prints sizes for people: "4.1 GB", never "4.113301824 GB" beside it.

test("route rounds a model's size in the summary and in every verdict", async (t) => {
  const big = await startFakeOllama({ name: "big", models: [{ name: "mistral:7b", size: 4_113_301_824 }] });
  const small = await startFakeOllama({ name: "small", models: [] });
  t.after(() => Promise.all([big.close(), small.close()]));
  const { file } = writeConfig(tempDir(t), {
    servers: {
      big: { host: "127.0.0.1", port: big.port, priority: 1 },
      small: { host: "127.0.0.1", port: small.port, priority: 1, max_memory_gb: 4 },
    },
    logging: { dir: null },
    health: { timeout_ms: 5000 },
  });
  const r = await runCli(["route", "mistral:7b", "--config", file, "--env", "test"]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^mistral:7b → big \(needs 4\.1 GB, from size reported by \/api\/tags\)$/m);
  assert.match(r.out, /^ {4}small: too small: max_memory_gb 4 < 4\.1 GB needed$/m);
  assert.doesNotMatch(r.out, /\d\.\d{2,} GB/);
});
