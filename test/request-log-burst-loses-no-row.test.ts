import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";

// 5,000 requests as fast as 64 concurrent clients can send them: every one is in the log,
// once, under its own request id, and nothing was dropped.

test("a burst of 5,000 requests loses no row", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startLoggedProxy(t, [backend]);
  const total = 5000;
  const ids = new Set<string>();
  let next = 0;
  const client = async () => {
    while (next < total) {
      const i = next++;
      const id = `burst-${i}`;
      const res = await fetch(`${proxy.url}/api/generate`, {
        method: "POST",
        headers: { ...proxy.auth, "content-type": "application/json", "x-request-id": id },
        body: JSON.stringify({ model: "llama3", prompt: `n${i}`, stream: i % 2 === 0 }),
      });
      await res.arrayBuffer();
      assert.equal(res.status, 200);
      ids.add(id);
    }
  };
  await Promise.all(Array.from({ length: 64 }, client));
  assert.equal(ids.size, total);

  // Closing flushes the writer: after it every row is on disk.
  await proxy.close();
  const stats = proxy.telemetry.requestLog!.stats();
  assert.deepEqual(
    { recorded: stats.recorded, written: stats.written, dropped: stats.dropped, queued: stats.queued },
    { recorded: total, written: total, dropped: 0, queued: 0 },
  );
  const rows = proxy.store.db.prepare("SELECT request_id, completion_tokens FROM request_log").all() as {
    request_id: string;
    completion_tokens: number;
  }[];
  assert.equal(rows.length, total);
  assert.deepEqual(new Set(rows.map((r) => r.request_id)), ids);
  assert.ok(rows.every((r) => r.completion_tokens === 3));
});
