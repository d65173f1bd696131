import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// The routing rule "slow servers last" is tested on the table (routing-rules.test.ts); this is
// the pollers' half: a server whose /api/version takes longer than slow_threshold_ms is
// measured slow. Only that direction is asserted: a delay is a floor, a loaded machine only
// adds to it, so no outcome here depends on how busy the machine is.

test("a server answering its polls slower than slow_threshold_ms is reported slow", async (t) => {
  const slow = await startFakeOllama({ name: "slow", behaviour: { versionDelayMs: 700 } });
  t.after(() => slow.close());
  const p = await startProxy(t, [slow], {
    extra: { health: { interval_seconds: 0.2, timeout_ms: 5000, slow_threshold_ms: 350 } },
  });
  const state = () => p.server.fleet.servers()[0]!;
  await waitFor("the first poll to be measured", () => state().latencyMs !== null);
  assert.ok(state().latencyMs! >= 700, `latency ${state().latencyMs} ms`);
  assert.equal(state().isSlow(p.config.health.slowThresholdMs), true);
  const health = (await (await fetch(`${p.url}/health`)).json()) as {
    servers: { name: string; slow: boolean }[];
  };
  assert.deepEqual(
    health.servers.map((s) => [s.name, s.slow]),
    [["slow", true]],
  );
});
