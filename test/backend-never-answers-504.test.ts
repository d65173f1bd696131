import assert from "node:assert/strict";
import { test } from "node:test";
import { startRawUpstream } from "./fixtures/raw-upstream.js";
import { post, startProxy } from "./helpers.js";

// A backend that accepts the connection and the request, then says nothing: 504 in the
// client's dialect after limits.upstream_first_byte_timeout_ms, and the request is not replayed.

test("a backend that never answers gets the client a 504 after the first-byte timeout", async (t) => {
  const silent = await startRawUpstream("silent", () => {}); // polls answer, work requests hang
  t.after(() => silent.close());
  const p = await startProxy(t, [silent], {
    extra: { limits: { upstream_first_byte_timeout_ms: 300 } },
  });
  const started = Date.now();
  const r = await post(`${p.url}/api/generate`, { model: "llama3", prompt: "x" }, p.auth);
  const took = Date.now() - started;
  assert.equal(r.status, 504);
  assert.deepEqual(r.body, { error: "silent sent no response within 0.3 s" });
  assert.ok(took >= 280 && took < 2000, `answered after ${took} ms`);

  const v1 = await post(`${p.url}/v1/chat/completions`, { model: "llama3", messages: [] }, p.auth);
  assert.equal(v1.status, 504);
  assert.equal((v1.body as { error: { code: string; type: string } }).error.code, "upstream_timeout");
  // A slow backend is not a dead one: it stays usable.
  assert.equal(p.server.fleet.servers()[0]?.health, "up");
  assert.equal(p.server.fleet.servers()[0]?.inFlight, 0);
});
