import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { pino } from "pino";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { scrape, value } from "./fixtures/prometheus.js";

// What Node's HTTP parser refuses before there is a request (bad syntax, headers too large)
// never reaches the request log: it is counted in /metrics by the status answered, and
// logged at a bounded rate, so that a flood of garbage is seen without flooding the log.

function send(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let text = "";
    socket.on("data", (c: Buffer) => {
      text += c.toString();
    });
    socket.on("error", () => {});
    socket.on("close", () => resolve(text));
    socket.end(bytes);
  });
}

test("parser refusals are counted by status and logged once per burst", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu" });
  t.after(() => gpu.close());
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const p = await startLoggedProxy(t, [gpu], { log });

  for (let i = 0; i < 20; i++)
    assert.match(await send(p.server.port, "NOT HTTP\r\n\r\n"), /^HTTP\/1\.1 400 /);
  assert.match(
    await send(p.server.port, `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(64 * 1024)}\r\n\r\n`),
    /^HTTP\/1\.1 431 /,
  );

  const fams = await scrape(p.url);
  assert.equal(value(fams, "ollama_proxy_parser_refusals_total", { code: "400" }), 20);
  assert.equal(value(fams, "ollama_proxy_parser_refusals_total", { code: "431" }), 1);
  const logged = lines.filter((l) => l.msg === "requests refused by the HTTP parser");
  assert.equal(logged.length, 1, `one line for the burst: ${JSON.stringify(logged)}`);
  assert.equal(logged[0]!.status, 400);
});
