import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { test } from "node:test";
import { stringify } from "yaml";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { addUser, post, section, tempDir, waitFor, writeConfig } from "./helpers.js";

// `logging.level` is one of the keys SIGHUP applies: from warn to info, the request lines
// start without a restart (they were silently ignored before).

test("SIGHUP changes the app log's level", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", models: [{ name: "llama3:latest" }] });
  t.after(() => backend.close());
  const dir = tempDir(t);
  const base = section([backend], { logging: { level: "warn", dir: null } });
  const { file, config } = writeConfig(dir, base);
  const auth = addUser(config.database);
  const proxy = await spawnProxy(t, file);
  const ask = async (id: string) => {
    const r = await post(
      `${proxy.url}/api/generate`,
      { model: "llama3", prompt: "x", stream: false },
      {
        ...auth,
        "x-request-id": id,
      },
    );
    assert.equal(r.status, 200);
  };

  await ask("at-warn");
  writeFileSync(
    file,
    stringify({ test: { ...base, database: config.database, logging: { level: "info", dir: null } } }),
  );
  proxy.child.kill("SIGHUP");
  await waitFor("the level change", () => proxy.stdout().includes('"msg":"log level changed"'));
  assert.match(proxy.stdout(), /"from":"warn","to":"info"/);
  await ask("at-info");
  await waitFor("the request line at info", () => proxy.stdout().includes('"requestId":"at-info"'));
  // Lines are written in order: had the first request been logged, it would be there already.
  assert.doesNotMatch(proxy.stdout(), /"requestId":"at-warn"/);
  assert.match(
    proxy.stderr(),
    /ollama-proxy: config reloaded from .*ollama_proxy\.yml: applied logging\.level/,
  );
  assert.equal(await proxy.stop(), 0);
});
