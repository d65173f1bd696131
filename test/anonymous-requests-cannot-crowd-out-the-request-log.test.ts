import assert from "node:assert/strict";
import { test } from "node:test";
import Database from "better-sqlite3";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { post, waitFor } from "./helpers.js";

// While the writer cannot keep up, records wait in a bounded queue and the rest are dropped.
// Requests without a user (a flood of bad or missing tokens, scrapers) may fill half of it at
// most: the records of authenticated requests still find room.

test("a flood of requests without a token leaves room in the request-log queue for users", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu" });
  t.after(() => gpu.close());
  const maxQueue = 20;
  const p = await startLoggedProxy(t, [gpu], {
    requestLog: { maxQueue, busyTimeoutMs: 50 },
    extra: { limits: { auth_failures_per_minute: 1000 } },
  });
  const stats = () => p.telemetry.requestLog!.stats();

  // Another connection holds the write lock: nothing is written meanwhile.
  const lock = new Database(p.config.database);
  t.after(() => lock.close());
  lock.exec("BEGIN EXCLUSIVE");

  for (let i = 0; i < 50; i++) assert.equal((await fetch(`${p.url}/api/tags`)).status, 401);
  assert.equal(stats().queued, maxQueue / 2, "anonymous records fill half of the queue, no more");
  for (let i = 0; i < 5; i++) {
    const r = await post(`${p.url}/api/generate`, { model: "llama3", prompt: "x", stream: false }, p.auth);
    assert.equal(r.status, 200);
  }
  assert.equal(stats().queued, maxQueue / 2 + 5, "every authenticated record found room");

  lock.exec("COMMIT");
  await waitFor("the queue to be written", () => stats().queued === 0, 10_000);
  const byUser = p.store.db
    .prepare("SELECT count(*) FROM request_log WHERE user_name = 'alice'")
    .pluck()
    .get() as number;
  assert.equal(byUser, 5);
});
