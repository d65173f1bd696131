import assert from "node:assert/strict";
import { test } from "node:test";
import { main } from "../lib/cli/main.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { tempDir, writeConfig } from "./helpers.js";

// `ollama-proxy route MODEL` polls the configured servers and explains the decision.

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) }, out, err };
}

test("route names the chosen server and says why each other one was not chosen", async (t) => {
  const GB = 1_000_000_000;
  const first = await startFakeOllama({ name: "first", models: [{ name: "llama3:latest", size: 5 * GB }] });
  const second = await startFakeOllama({ name: "second", models: [{ name: "llama3:latest", size: 5 * GB }] });
  const tiny = await startFakeOllama({ name: "tiny", models: [] });
  const without = await startFakeOllama({ name: "without", models: [] });
  const dead = await startFakeOllama({ name: "dead" });
  await dead.kill();
  t.after(() => Promise.all([first.close(), second.close(), tiny.close(), without.close()]));
  const dir = tempDir(t);
  const srv = (f: { port: number }, priority: number, extra: Record<string, unknown> = {}) => ({
    host: "127.0.0.1",
    port: f.port,
    priority,
    ...extra,
  });
  const { file } = writeConfig(dir, {
    servers: {
      first: srv(first, 1),
      second: srv(second, 2),
      tiny: srv(tiny, 1, { max_memory_gb: 2 }),
      without: srv(without, 1),
      dead: srv(dead, 1),
      off: srv(first, 1, { enabled: false }),
    },
    logging: { dir: null },
    health: { timeout_ms: 5000 },
  });
  const c = capture();
  const code = await main(["route", "llama3", "--config", file, "--env", "test"], c.io);
  assert.equal(code, 0, c.err.join("\n"));
  const text = c.out.join("\n");
  assert.match(text, /^llama3:latest → first \(needs 5 GB, from size reported by \/api\/tags\)/);
  assert.match(text, /→ first: priority 1, has the model/);
  assert.match(text, / second: fallback #2: lower priority \(2 > 1\)/);
  assert.match(text, / tiny: too small: max_memory_gb 2 < 5 GB needed/);
  assert.match(text, / without: does not have the model \(other servers do\)/);
  assert.match(text, / dead: down \(ECONNREFUSED\)/);
  assert.match(text, / off: disabled in the config/);

  const j = capture();
  assert.equal(await main(["route", "llama3", "--json", "--config", file, "--env", "test"], j.io), 0);
  const parsed = JSON.parse(j.out.join("")) as {
    target: string;
    verdicts: { server: string; rank: number | null }[];
  };
  assert.equal(parsed.target, "first");
  assert.deepEqual(
    parsed.verdicts.filter((v) => v.rank !== null).map((v) => v.server),
    ["first", "second"],
  );
});

test("route exits 1 when no server can take the model", async (t) => {
  const dead = await startFakeOllama({ name: "dead" });
  await dead.kill();
  const dir = tempDir(t);
  const { file } = writeConfig(dir, {
    servers: { dead: { host: "127.0.0.1", port: dead.port } },
    logging: { dir: null },
    health: { timeout_ms: 5000 },
  });
  const c = capture();
  assert.equal(await main(["route", "llama3", "--config", file, "--env", "test"], c.io), 1);
  assert.match(c.out.join("\n"), /no Ollama server is available/);
});

test("route says why a model that exists cannot run: too small, or on a down server", async (t) => {
  const first = await startFakeOllama({ name: "first", models: [{ name: "llama3:latest" }] });
  const second = await startFakeOllama({
    name: "second",
    models: [{ name: "mistral:7b", size: 4_100_000_000 }],
  });
  const mid = await startFakeOllama({ name: "mid" });
  await mid.kill();
  t.after(() => Promise.all([first.close(), second.close()]));
  const dir = tempDir(t);
  const { file } = writeConfig(dir, {
    servers: {
      first: { host: "127.0.0.1", port: first.port, priority: 1 },
      second: { host: "127.0.0.1", port: second.port, priority: 2, max_memory_gb: 4 },
      mid: { host: "127.0.0.1", port: mid.port, priority: 3, max_memory_gb: 2 },
    },
    logging: { dir: null },
    health: { timeout_ms: 5000 },
  });

  const small = capture();
  assert.equal(await main(["route", "mistral:7b", "--config", file, "--env", "test"], small.io), 1);
  const text = small.out.join("\n");
  // The same words the proxy answers a client with.
  assert.match(text, /^mistral:7b \(4\.1 GB\) is only on second, whose max_memory_gb is 4$/m);
  assert.match(text, / second: too small: max_memory_gb 4 < 4\.1 GB needed/);
  assert.match(text, / first: does not have the model \(other servers do\)/);
  assert.match(text, / mid: down \(ECONNREFUSED\); its model list is unknown/);
});

test("route does not call a model missing while a down server's models are unknown", async (t) => {
  // route polls once, so a server down now has never listed its models: it may have the model.
  const first = await startFakeOllama({ name: "first", models: [{ name: "llama3:latest" }] });
  const mid = await startFakeOllama({ name: "mid" });
  await mid.kill();
  t.after(() => first.close());
  const dir = tempDir(t);
  const { file } = writeConfig(dir, {
    servers: {
      first: { host: "127.0.0.1", port: first.port, priority: 1 },
      mid: { host: "127.0.0.1", port: mid.port, priority: 2 },
    },
    logging: { dir: null },
    health: { timeout_ms: 5000 },
  });
  const c = capture();
  assert.equal(await main(["route", "qwen2.5:14b", "--config", file, "--env", "test"], c.io), 1);
  const text = c.out.join("\n");
  assert.match(
    text,
    /^qwen2\.5:14b is not on any server that is up; it may be on mid, which is down and has not listed its models$/m,
  );
  assert.match(text, / first: does not have the model$/m);
  assert.match(text, / mid: down \(ECONNREFUSED\); its model list is unknown/);
});
