import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { rawExchange } from "./fixtures/raw-client.js";
import { startRawUpstream } from "./fixtures/raw-upstream.js";
import { startProxy, waitFor } from "./helpers.js";

// A client that stops reading must not hold a connection, an upstream generation or memory
// forever: no progress writing to it for limits.send_timeout_ms closes it (nginx's
// send_timeout), and requests pipelined behind an answer it does not read are not answered
// into memory without end.

test("a stream the client stops reading is cut after send_timeout_ms, and its generation with it", async (t) => {
  // A backend that streams as fast as the proxy takes it, for ever: only the proxy can end it.
  let cut = false;
  const flood = await startRawUpstream("flood", (socket) => {
    socket.write(
      "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n",
    );
    const line = `${JSON.stringify({ model: "llama3", response: "x".repeat(64 * 1024), done: false })}\n`;
    const chunk = `${Buffer.byteLength(line).toString(16)}\r\n${line}\r\n`;
    const pump = () => {
      while (!socket.destroyed && socket.write(chunk));
    };
    socket.on("drain", pump);
    socket.on("close", () => {
      cut = true;
    });
    pump();
  });
  t.after(() => flood.close());
  const p = await startProxy(t, [flood], { extra: { limits: { send_timeout_ms: 300 } } });

  const socket = connect(p.server.port, "127.0.0.1");
  socket.on("error", () => {});
  socket.pause(); // and never read
  const body = JSON.stringify({ model: "llama3", prompt: "hi" });
  socket.write(
    `POST /api/generate HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${p.userToken}\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
  );
  await waitFor("the backend's stream to be cut", () => cut, 10_000);
  await waitFor("the proxy to let go of the request", () => p.server.active() === 0, 2000);
  assert.equal(
    p.server.fleet.servers()[0]!.health,
    "up",
    "a client that stopped reading is not the backend's fault",
  );
  socket.destroy();
});

test("requests pipelined behind answers the client does not read: the connection is closed, not answered into memory", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu" });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu]);
  const one = "GET /health HTTP/1.1\r\nhost: x\r\n\r\n";

  // A client that pipelines a few and reads them gets every answer.
  const few = await rawExchange(
    p.server.port,
    `${one.repeat(4)}GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`,
  );
  assert.equal(few.match(/HTTP\/1\.1 200 /g)?.length, 5);

  // One that sends 2.5 MB of them and reads nothing is cut off.
  const socket = connect(p.server.port, "127.0.0.1");
  socket.on("error", () => {});
  socket.pause();
  socket.write(Buffer.from(one.repeat(Math.ceil(2.5e6 / one.length))));
  await new Promise((r) => setTimeout(r, 500)); // what a client that never reads does
  let answers = 0;
  socket.on("data", (c: Buffer) => {
    answers += c.toString("latin1").match(/HTTP\/1\.1 200 /g)?.length ?? 0;
  });
  socket.resume();
  await Promise.race([
    new Promise((resolve) => socket.on("close", resolve)),
    new Promise((_, reject) => setTimeout(() => reject(new Error("the connection was not closed")), 5000)),
  ]);
  assert.ok(answers <= 17, `${answers} answers were queued for a client that read none`);
});
