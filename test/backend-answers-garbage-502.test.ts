import assert from "node:assert/strict";
import { test } from "node:test";
import { startRawUpstream } from "./fixtures/raw-upstream.js";
import { post, startProxy } from "./helpers.js";

// A backend that answers something that is not HTTP: 502, no crash, and the backend is
// counted as failing (marked down until the pollers see it well again).

test("garbage instead of HTTP is a 502 and marks the backend down", async (t) => {
  const junk = await startRawUpstream("junk", (socket) =>
    socket.end("SSH-2.0-OpenSSH_9.2\r\n\x00\x01garbage"),
  );
  t.after(() => junk.close());
  const p = await startProxy(t, [junk]);
  const r = await post(`${p.url}/api/generate`, { model: "llama3", prompt: "x", stream: false }, p.auth);
  assert.equal(r.status, 502);
  assert.deepEqual(r.body, { error: "junk sent an invalid HTTP response" });
  const state = p.server.fleet.servers()[0]!;
  assert.equal(state.health, "down");
  assert.equal(state.inFlight, 0);
  // Still serving: /health answers (503: its only server is down).
  assert.equal((await fetch(`${p.url}/health`)).status, 503);
});
