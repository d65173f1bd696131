import assert from "node:assert/strict";
import { test } from "node:test";
import Database from "better-sqlite3";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { post, waitFor } from "./helpers.js";

// Another connection holds the database's write lock (a backup, a sqlite3 shell left open):
// the writer cannot write. Requests keep being answered while the lock is held — the request
// path never waits on the disk — records beyond the bound are dropped and counted in /health
// and /metrics, and once the lock goes the held records are written.

test("a stalled writer drops and counts instead of blocking", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const maxQueue = 20;
  const proxy = await startLoggedProxy(t, [backend], { requestLog: { maxQueue, busyTimeoutMs: 50 } });
  const stats = () => proxy.telemetry.requestLog!.stats();

  const lock = new Database(proxy.config.database);
  t.after(() => lock.close());
  lock.exec("BEGIN EXCLUSIVE");

  const total = 200;
  let next = 0;
  let mostQueued = 0;
  const client = async () => {
    while (next < total) {
      next++;
      const r = await post(
        `${proxy.url}/api/generate`,
        { model: "llama3", prompt: "x", stream: false },
        proxy.auth,
      );
      assert.equal(r.status, 200);
      mostQueued = Math.max(mostQueued, stats().queued);
    }
  };
  // All answered while the lock is still held.
  await Promise.all(Array.from({ length: 8 }, client));
  assert.ok(lock.inTransaction);
  assert.ok(mostQueued <= maxQueue, `queued ${mostQueued} > ${maxQueue}`);
  const during = stats();
  assert.equal(during.recorded, total);
  assert.equal(during.written, 0);
  assert.equal(during.dropped, total - during.queued);
  assert.ok(during.dropped >= total - maxQueue);

  await waitFor("the writer to report the lock", () => stats().lastError !== null);
  assert.match(stats().lastError ?? "", /database is locked/);
  const health = (await (await fetch(`${proxy.url}/health`)).json()) as {
    status: string;
    components: { name: string; ok: boolean; detail: { dropped: number; error?: string } }[];
  };
  assert.equal(health.status, "degraded");
  const component = health.components.find((c) => c.name === "request_log");
  assert.equal(component?.ok, false);
  assert.ok((component?.detail.dropped ?? 0) >= total - maxQueue);
  const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
  const dropped = Number(/^ollama_proxy_request_log_dropped_total (\d+)$/m.exec(metrics)?.[1]);
  assert.ok(dropped >= total - maxQueue, `metrics say ${dropped} dropped`);

  // The lock goes: what the writer held is written, and every record is either a row or counted.
  lock.exec("COMMIT");
  await waitFor("the held records to be written", () => stats().queued === 0 && stats().written > 0, 10_000);
  const after = stats();
  assert.equal(after.lastError, null);
  assert.equal(after.written + after.dropped, after.recorded);
  const rows = proxy.store.db.prepare("SELECT count(*) FROM request_log").pluck().get();
  assert.equal(rows, after.written);
});
