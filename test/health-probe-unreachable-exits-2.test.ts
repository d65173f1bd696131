import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { test } from "node:test";
import { main } from "../lib/cli/main.js";
import { captureIo } from "./fixtures/capture-io.js";

// A probe that cannot reach the proxy must report it as down (exit 2), never hang or crash:
// a dead service is the case monitoring most needs to see.

test("nothing listening: health exits 2 and names the address", async () => {
  // Take a port from the kernel and release it, so that nothing listens there.
  const probe = createHttpServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));

  const io = captureIo();
  assert.equal(await main(["health", "--url", `http://127.0.0.1:${port}`], io), 2);
  assert.equal(io.stdout[0], `unreachable: http://127.0.0.1:${port}/health (ECONNREFUSED)`);

  const json = captureIo();
  assert.equal(await main(["health", "--url", `http://127.0.0.1:${port}/`, "--json"], json), 2);
  assert.deepEqual(JSON.parse(json.stdout[0] ?? ""), {
    status: "unreachable",
    url: `http://127.0.0.1:${port}/health`,
    error: "ECONNREFUSED",
  });
});

test("a proxy that accepts but never answers: health gives up after --timeout and exits 2", async (t) => {
  const sockets = new Set<Socket>();
  const silent = createServer((s) => {
    sockets.add(s);
  });
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const { port } = silent.address() as AddressInfo;

  const io = captureIo();
  const started = Date.now();
  assert.equal(await main(["health", "--url", `http://127.0.0.1:${port}`, "--timeout", "300"], io), 2);
  assert.ok(Date.now() - started < 5000, "the probe must not wait for its 5 s default");
  assert.match(io.stdout[0] ?? "", /^unreachable: http:\/\/127\.0\.0\.1:\d+\/health \(.*time.*\)/i);
});
