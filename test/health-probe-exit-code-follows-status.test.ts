import assert from "node:assert/strict";
import { test } from "node:test";
import { main } from "../lib/cli/main.js";
import { captureIo } from "./fixtures/capture-io.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// `ollama-proxy health` is what monitoring and scripts run (SPEC §8): its exit code must say
// ok (0), degraded (1) or down (2) exactly as the proxy's own /health judges the fleet.

/** Waits until the proxy's pollers have judged every server, so /health is settled. */
async function settled(url: string): Promise<void> {
  await waitFor("every server polled", async () => {
    const res = await fetch(`${url}/health`);
    const body = (await res.json()) as { servers: { state: string }[] };
    return body.servers.every((s) => s.state !== "unknown");
  });
}

test("every server up: health exits 0 and says ok", async (t) => {
  const a = await startFakeOllama({ name: "gpu1" });
  const b = await startFakeOllama({ name: "gpu2" });
  t.after(() => Promise.all([a.close(), b.close()]));
  const proxy = await startProxy(t, [a, b]);
  await settled(proxy.url);

  const io = captureIo();
  assert.equal(await main(["health", "--url", proxy.url], io), 0);
  assert.match(io.stdout[0] ?? "", /^ok — ollama-proxy /);
  assert.ok(io.stdout.some((l) => /^gpu1\s+up\s/m.test(l)));
  assert.ok(io.stdout.some((l) => /^gpu2\s+up\s/m.test(l)));
});

test("one of two servers down: health exits 1 and names the dead one", async (t) => {
  const a = await startFakeOllama({ name: "gpu1" });
  const b = await startFakeOllama({ name: "gpu2" });
  t.after(() => Promise.all([a.close(), b.close()]));
  await b.kill();
  const proxy = await startProxy(t, [a, b]);
  await settled(proxy.url);

  const io = captureIo();
  assert.equal(await main(["health", "--url", proxy.url], io), 1);
  assert.match(io.stdout[0] ?? "", /^degraded/);
  assert.ok(io.stdout.some((l) => /^gpu2\s+down\s/m.test(l)));
});

test("every server down: health exits 2", async (t) => {
  const a = await startFakeOllama({ name: "gpu1" });
  const b = await startFakeOllama({ name: "gpu2" });
  t.after(() => Promise.all([a.close(), b.close()]));
  await a.kill();
  await b.kill();
  const proxy = await startProxy(t, [a, b]);
  await settled(proxy.url);

  const io = captureIo();
  assert.equal(await main(["health", "--url", proxy.url], io), 2);
  assert.match(io.stdout[0] ?? "", /^down/);
});
