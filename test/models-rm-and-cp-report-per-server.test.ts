import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { test } from "node:test";
import { runClient } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// `models rm` and `models cp` act on every server that has the model (or on --servers) and
// report each server; they exit 1 naming the servers that failed. Through the proxy they use
// its fan-out and its per-server answer, from the host they call each server.

async function fleet(t: Parameters<typeof startProxy>[0]) {
  const a = await startFakeOllama({
    name: "a",
    models: [{ name: "llama3:latest" }, { name: "phi4:latest" }],
  });
  const b = await startFakeOllama({ name: "b", models: [{ name: "llama3:latest" }] });
  const c = await startFakeOllama({ name: "c", models: [{ name: "phi4:latest" }] });
  t.after(() => Promise.all([a.close(), b.close(), c.close()]));
  const proxy = await startProxy(t, [a, b, c]);
  return { a, b, c, proxy };
}

test("through the proxy: rm and cp on every server that has the model, one line per server", async (t) => {
  const { a, b, c, proxy } = await fleet(t);
  const asAdmin = (argv: string[]) =>
    runClient([...argv, "--url", proxy.url, "--token-stdin"], Readable.from([proxy.adminToken]));

  const cp = await asAdmin(["models", "cp", "phi4", "phi4-backup"]);
  assert.equal(cp.code, 0, cp.err);
  assert.equal(cp.out, "a: copied phi4 to phi4-backup\nc: copied phi4 to phi4-backup");
  assert.equal(b.work().length, 0, "b has no phi4");

  const rm = await asAdmin(["models", "rm", "llama3", "--json"]);
  assert.equal(rm.code, 0, rm.err);
  assert.deepEqual(JSON.parse(rm.out), {
    op: "delete",
    model: "llama3",
    servers: [
      { server: "a", ok: true, status: 200 },
      { server: "b", ok: true, status: 200 },
    ],
  });
  assert.equal(c.work().filter((w) => w.path === "/api/delete").length, 0);
  for (const f of [a, b]) assert.ok(!f.models.some((m) => m.name === "llama3:latest"));

  // Named servers: one call each with X-Ollama-Proxy-Server; c has no llama3 (any more).
  const named = await asAdmin(["models", "rm", "phi4-backup", "--servers", "c"]);
  assert.equal(named.code, 0, named.err);
  assert.equal(named.out, "c: deleted phi4-backup");
  assert.ok(
    a.models.some((m) => m.name === "phi4-backup:latest"),
    "a keeps its copy",
  );
});

test("from the config: a server that fails is reported and named in a non-zero exit", async (t) => {
  const { a, proxy } = await fleet(t);
  const args = ["--config", proxy.file, "--env", "test"];

  // c has no llama3: named all the same, it answers Ollama's 404.
  const rm = await runClient(["models", "rm", "llama3", "--servers", "a,c", ...args]);
  assert.equal(rm.code, 1);
  assert.equal(rm.out, "a: deleted llama3\nc: failed (404): model 'llama3' not found");
  assert.equal(rm.err, "ollama-proxy: delete of llama3 failed on c (model 'llama3' not found)");
  assert.ok(!a.models.some((m) => m.name === "llama3:latest"));

  const nobody = await runClient(["models", "rm", "mistral", ...args]);
  assert.equal(nobody.code, 1);
  assert.match(nobody.err, /^ollama-proxy: no server has mistral \(from .*ollama_proxy\.yml \[test\]\)$/);

  const unknown = await runClient(["models", "cp", "phi4", "x", "--servers", "zz", ...args]);
  assert.equal(unknown.code, 64);
  assert.match(unknown.err, /no enabled server named "zz"; the fleet has: a, b, c/);
});
