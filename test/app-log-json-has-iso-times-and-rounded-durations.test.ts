import assert from "node:assert/strict";
import { test } from "node:test";
import { roundDurations } from "../lib/log/app-log.js";
import { prettyLine } from "../lib/log/pretty.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { addUser, post, section, tempDir, waitFor, writeConfig } from "./helpers.js";

// Off a terminal (files, pipes, the journal) the app log stays JSON lines — for machines —
// but with ISO 8601 times and durations rounded to 0.1 ms instead of epoch milliseconds and
// `334.53257900000006`.

test("JSON lines off a terminal: ISO times, rounded durations, one request line", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", models: [{ name: "llama3:latest" }] });
  t.after(() => backend.close());
  const { file, config } = writeConfig(
    tempDir(t),
    section([backend], { logging: { level: "info", dir: null } }),
  );
  const auth = addUser(config.database);
  const proxy = await spawnProxy(t, file);
  const r = await post(`${proxy.url}/api/generate`, { model: "llama3", prompt: "hi", stream: false }, auth);
  assert.equal(r.status, 200);
  await waitFor("the request line", () => proxy.stdout().includes('"msg":"request"'));
  const lines = proxy
    .stdout()
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const l of lines) assert.match(String(l.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const request = lines.find((l) => l.msg === "request")!;
  assert.equal(request.level, 30);
  for (const key of ["durationMs", "ttftMs", "tokensPerS"]) {
    const v = request[key] as number;
    assert.equal(typeof v, "number", key);
    assert.equal(Math.round(v * 10) / 10, v, `${key} is rounded to 0.1: ${v}`);
  }
  assert.equal(await proxy.stop(), 0);
});

test("rounding keeps whole numbers and other fields, and never changes the caller's object", () => {
  const given = Object.freeze({
    durationMs: 334.53257900000006,
    ttft_ms: 0.04,
    status: 200,
    ratio: 0.123,
    tokensPerS: 12.345,
  });
  assert.deepEqual(roundDurations(given), {
    durationMs: 334.5,
    ttft_ms: 0,
    status: 200,
    ratio: 0.123,
    tokensPerS: 12.3,
  });
  const whole = { latencyMs: 12 };
  assert.equal(roundDurations(whole), whole, "nothing to round: the same object");
});

test("the readable form of a record: local time, level, message and fields; a request in one line", () => {
  const time = "2026-03-01T09:12:03.456Z";
  const local = new Date(time);
  const hhmmss = [local.getHours(), local.getMinutes(), local.getSeconds()]
    .map((n) => String(n).padStart(2, "0"))
    .join(":");
  assert.equal(
    prettyLine(
      JSON.stringify({ level: 40, time, pid: 1, server: "gpu2", reason: "ECONNREFUSED", msg: "server down" }),
      false,
    ),
    `${hhmmss}.456 WARN  server down server=gpu2 reason=ECONNREFUSED\n`,
  );
  assert.equal(
    prettyLine(
      JSON.stringify({
        level: 30,
        time,
        requestId: "abc",
        method: "POST",
        path: "/api/chat",
        model: "llama3:latest",
        user: "alice",
        server: "gpu1",
        status: 200,
        durationMs: 1234.5,
        ttftMs: 412.3,
        promptTokens: 21,
        completionTokens: 9,
        tokensPerS: 38.2,
        msg: "request",
      }),
      false,
    ),
    `${hhmmss}.456 INFO  POST /api/chat llama3:latest alice → gpu1 200 1.23 s, ttft 412 ms, 21+9 tokens, 38.2 tok/s\n`,
  );
  assert.equal(
    prettyLine(
      JSON.stringify({
        level: 30,
        time,
        method: "GET",
        path: "/api/tags",
        user: null,
        status: 401,
        durationMs: 0.4,
        error: "unauthorized",
        msg: "request",
      }),
      false,
    ),
    `${hhmmss}.456 INFO  GET /api/tags - 401 0 ms error=unauthorized\n`,
  );
  assert.equal(prettyLine("not json", false), "not json\n");
  const ESC = "\u001b";
  assert.ok(
    prettyLine(JSON.stringify({ level: 50, time, msg: "boom" }), true).includes(
      `${ESC}[31mERROR${ESC}[0m boom`,
    ),
    "colours on a terminal that takes them",
  );
});
