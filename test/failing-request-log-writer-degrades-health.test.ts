import assert from "node:assert/strict";
import { test } from "node:test";
import { MIGRATIONS } from "../lib/store/migrations.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { post, waitFor } from "./helpers.js";

// The writer's inserts fail (here the table is gone; a full or read-only disk fails the same
// way): the proxy keeps serving, /health says the request log is degraded and why, records
// beyond the bound are counted as dropped, and once the database accepts rows again the
// writer catches up with what it held.

test("a failing writer does not stop the proxy: it reports itself degraded and recovers", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startLoggedProxy(t, [backend], { requestLog: { maxQueue: 10 } });
  const stats = () => proxy.telemetry.requestLog!.stats();
  const generate = () =>
    post(`${proxy.url}/api/generate`, { model: "llama3", prompt: "x", stream: false }, proxy.auth);

  assert.equal((await generate()).status, 200);
  await proxy.waitForRows(1);
  proxy.store.db.exec("DROP TABLE request_log");

  for (let i = 0; i < 30; i++) assert.equal((await generate()).status, 200);
  await waitFor("the writer to report the failure", () => /no such table/.test(stats().lastError ?? ""));
  const health = (await (await fetch(`${proxy.url}/health`)).json()) as {
    status: string;
    components: { name: string; ok: boolean; detail: { dropped: number; error?: string } }[];
  };
  assert.equal(health.status, "degraded");
  const component = health.components.find((c) => c.name === "request_log")!;
  assert.equal(component.ok, false);
  assert.match(component.detail.error ?? "", /no such table: request_log/);
  assert.ok(component.detail.dropped >= 20, `dropped ${component.detail.dropped}`);

  // The table is back (every migration that made it what it is): the held records are written.
  for (const m of MIGRATIONS) if (m.version >= 2 && m.sql.includes("request_log")) proxy.store.db.exec(m.sql);
  await waitFor("the writer to catch up", () => stats().queued === 0 && stats().lastError === null, 10_000);
  const s = stats();
  assert.equal(s.written + s.dropped, s.recorded);
  const rows = proxy.store.db.prepare("SELECT count(*) FROM request_log").pluck().get() as number;
  assert.equal(rows, s.written - 1);
  assert.ok(rows > 0);
});
