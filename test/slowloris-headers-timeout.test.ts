import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// Slowloris: a client trickling its headers is cut off within limits.headers_timeout_ms
// (plus Node's 1 s enforcement tick), and the proxy keeps serving everyone else.

test("a client that trickles its headers is disconnected within the headers timeout", async (t) => {
  const backend = await startFakeOllama({ name: "gpu" });
  t.after(() => backend.close());
  const p = await startProxy(t, [backend], {
    extra: { limits: { headers_timeout_ms: 500, request_timeout_ms: 1000 } },
  });
  const port = Number(new URL(p.url).port);
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  const started = Date.now();
  socket.write("POST /api/generate HTTP/1.1\r\nHost: x\r\n");
  const trickle = setInterval(() => socket.write("X-a: b\r\n"), 100);
  let answer = "";
  socket.on("data", (d: Buffer) => {
    answer += d.toString();
  });
  socket.on("error", () => {});
  await once(socket, "close");
  clearInterval(trickle);
  const took = Date.now() - started;
  assert.ok(took >= 450 && took < 2500, `closed after ${took} ms`);
  assert.match(answer, /^HTTP\/1.1 408/);
  assert.equal((await fetch(`${p.url}/`)).status, 200);
});
