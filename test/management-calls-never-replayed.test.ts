import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startRawUpstream } from "./fixtures/raw-upstream.js";
import { post, startProxy } from "./helpers.js";

// A request that changes state (pull, push, create, copy, delete) is never sent to another
// server once any byte of it may have reached one (nginx's and Envoy's default): a server
// that read a whole pull and then reset the connection may be pulling. Inference, which
// changes nothing, still fails over.

test("a pull that a server read and reset is not replayed on the next server; a generate is", async (t) => {
  // Reads the request, then resets the connection without an answer.
  const resets = await startRawUpstream("resets", (socket) => {
    socket.once("data", () => socket.resetAndDestroy());
    setTimeout(() => socket.resetAndDestroy(), 50);
  });
  const spare = await startFakeOllama({ name: "spare" });
  t.after(() => Promise.all([resets.close(), spare.close()]));
  const p = await startProxy(t, [resets, spare], {
    extra: {
      servers: {
        resets: { host: "127.0.0.1", port: resets.port, priority: 1 },
        spare: { host: "127.0.0.1", port: spare.port, priority: 2 },
      },
    },
  });
  const admin = { authorization: `Bearer ${p.adminToken}` };

  const pull = await post(`${p.url}/api/pull`, { model: "llama3", stream: false }, admin);
  assert.equal(pull.status, 502);
  assert.match((pull.body as { error: string }).error, /^resets is unreachable \(ECONNRESET\)$/);
  assert.equal(resets.hits, 1);
  assert.deepEqual(spare.work(), [], "the pull went to one server only");

  // The failed server is marked down; once it is back in the rotation, inference fails over.
  p.server.fleet.servers().find((s) => s.key === "resets")!.health = "up";
  const gen = await post(`${p.url}/api/generate`, { model: "llama3", prompt: "hi", stream: false }, p.auth);
  assert.equal(gen.status, 200);
  assert.equal(gen.headers.get("x-ollama-proxy-server"), "spare");
});
