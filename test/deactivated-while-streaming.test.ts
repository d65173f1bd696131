import assert from "node:assert/strict";
import { test } from "node:test";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy, waitFor } from "./helpers.js";

// A user deactivated (by the CLI, another process) while one of their streams runs: that
// stream may finish; every new request of theirs is refused within 2 s.

test("deactivating a user mid-stream lets the stream finish and refuses new requests within 2 s", async (t) => {
  const backend = await startFakeOllama({ name: "gpu", behaviour: { chunks: 60, intervalMs: 50 } });
  t.after(() => backend.close());
  const p = await startProxy(t, [backend]);
  const running = post(`${p.url}/api/generate`, { model: "llama3", prompt: "long" }, p.auth);
  await waitFor("the stream to start", () => backend.inProgress() === 1);

  const cli = openStore(p.config.database); // what `ollama-proxy users deactivate alice` does
  cli.users.setActive("alice", false);
  cli.close();
  const changed = Date.now();
  await waitFor(
    "alice refused",
    async () => (await fetch(`${p.url}/api/tags`, { headers: p.auth })).status === 401,
    2000,
  );
  assert.ok(Date.now() - changed <= 2000);
  const refused = await post(
    `${p.url}/api/generate`,
    { model: "llama3", prompt: "again", stream: false },
    p.auth,
  );
  assert.equal(refused.status, 401);

  const stream = await running;
  assert.equal(stream.status, 200);
  assert.equal(stream.text.trim().split("\n").length, 61, "the running stream finished whole");
  assert.match(stream.text.trim().split("\n").at(-1) ?? "", /"done":true/);
});
