import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { post, waitFor } from "./helpers.js";

// One of two backends killed while 50 requests are in flight: the streams it was serving end
// with an in-band error line and are not replayed; requests that had not reached it yet go to
// the other backend and succeed; it leaves /health and comes back once it recovers. The cut
// streams are in the request log as upstream errors.

test("killing one of two backends during 50 concurrent requests", async (t) => {
  const behaviour = { chunks: 40, intervalMs: 25 };
  const victim = await startFakeOllama({ name: "victim", models: [{ name: "llama3:latest" }], behaviour });
  const survivor = await startFakeOllama({
    name: "survivor",
    models: [{ name: "llama3:latest" }],
    behaviour,
  });
  t.after(() => Promise.all([victim.close(), survivor.close()]));
  const p = await startLoggedProxy(t, [victim, survivor], {
    extra: {
      servers: {
        victim: { host: "127.0.0.1", port: victim.port, priority: 1 },
        survivor: { host: "127.0.0.1", port: survivor.port, priority: 1 },
      },
    },
  });
  const ask = (i: number) => post(`${p.url}/api/generate`, { model: "llama3", prompt: `p${i}` }, p.auth);

  // 20 streams split over both backends, then the victim dies mid-stream while 30 more arrive.
  const first = Array.from({ length: 20 }, (_, i) => ask(i));
  await waitFor(
    "streams running on both backends",
    () => victim.inProgress() === 10 && survivor.inProgress() === 10,
  );
  await victim.kill();
  const second = Array.from({ length: 30 }, (_, i) => ask(20 + i));
  const results = await Promise.all([...first, ...second]);

  const cut = results.filter((r) => r.headers.get("x-ollama-proxy-server") === "victim");
  const whole = results.filter((r) => r.headers.get("x-ollama-proxy-server") === "survivor");
  assert.equal(cut.length, 10, "the victim's own streams");
  assert.equal(whole.length, 40, "everything else went to the survivor");
  for (const r of cut) {
    assert.equal(r.status, 200);
    const lines = r.text.trim().split("\n");
    assert.match(lines.at(-1) ?? "", /^\{"error":"victim stopped mid-response \(/);
  }
  for (const r of whole) {
    assert.equal(r.status, 200);
    assert.match(r.text.trim().split("\n").at(-1) ?? "", /"done":true/);
  }
  // Not replayed: the survivor got each prompt once, and none of the victim's.
  const prompts = survivor.work().map((w) => (JSON.parse(w.body) as { prompt: string }).prompt);
  assert.equal(new Set(prompts).size, prompts.length);
  assert.equal(prompts.length, 40);

  const health = async () =>
    (await (await fetch(`${p.url}/health`)).json()) as {
      status: string;
      servers: { name: string; healthy: boolean }[];
    };
  const h = await health();
  assert.equal(h.status, "degraded");
  assert.equal(h.servers.find((s) => s.name === "victim")?.healthy, false);
  for (const s of p.server.fleet.servers()) assert.equal(s.inFlight, 0);

  // Each cut stream is in the request log as an upstream error, not a client abort.
  const rows = await p.waitForRows(50);
  const cutRows = rows.filter((r) => r.server === "victim");
  assert.equal(cutRows.length, 10);
  for (const r of cutRows) {
    assert.equal(r.error_code, "upstream_stream_error");
    assert.equal(r.client_aborted, 0);
  }
  assert.equal(rows.filter((r) => r.server === "survivor" && r.error_code === null).length, 40);

  await victim.revive();
  await waitFor("the victim back in /health", async () => (await health()).status === "ok");
});
