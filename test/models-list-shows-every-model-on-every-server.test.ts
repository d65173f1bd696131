import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { Readable } from "node:stream";
import { test } from "node:test";
import { loadConfig } from "../lib/config/load.js";
import { openStore } from "../lib/store/open.js";
import { clientHome, login, runClient } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// `models list`: the model × server matrix — where each model is, where it is loaded, its
// size, and which server routing would pick — from the host (the config) and through the
// proxy (an admin token), the same either way.

const GB = 1_000_000_000;

async function fleet(t: Parameters<typeof startProxy>[0]) {
  const gpu1 = await startFakeOllama({
    name: "gpu1",
    models: [
      { name: "llama3:latest", size: 4.7 * GB, loaded: true },
      { name: "qwen2.5:14b", size: 9 * GB },
    ],
  });
  const gpu2 = await startFakeOllama({ name: "gpu2", models: [{ name: "llama3:latest", size: 4.7 * GB }] });
  const small = await startFakeOllama({ name: "small", models: [] });
  t.after(() => Promise.all([gpu1.close(), gpu2.close(), small.close()]));
  const proxy = await startProxy(t, [gpu1, gpu2, small], {
    extra: {
      servers: {
        gpu1: { host: "127.0.0.1", port: gpu1.port, priority: 2 },
        gpu2: { host: "127.0.0.1", port: gpu2.port, priority: 1 },
        small: { host: "127.0.0.1", port: small.port, priority: 1, max_memory_gb: 4 },
      },
    },
  });
  return { gpu1, gpu2, small, proxy };
}

test("models list: present, loaded, size and route per model and server, from the config and through the proxy", async (t) => {
  const { proxy } = await fleet(t);
  const fromConfig = await runClient(["models", "list", "--json", "--config", proxy.file, "--env", "test"]);
  assert.equal(fromConfig.code, 0, fromConfig.err);
  const inv = JSON.parse(fromConfig.out);
  assert.deepEqual(
    inv.servers.map((s: { name: string; state: string; max_memory_gb: number | null }) => [
      s.name,
      s.state,
      s.max_memory_gb,
    ]),
    [
      ["gpu2", "up", null],
      ["small", "up", 4],
      ["gpu1", "up", null],
    ],
  );
  assert.deepEqual(inv.models, [
    {
      model: "llama3:latest",
      size: 4.7 * GB,
      need_gb: 4.7,
      need_from: "size reported by /api/tags",
      route: "gpu2",
      note: null,
      servers: {
        gpu2: { present: true, loaded: false, fits: true },
        small: { present: false, loaded: false, fits: false },
        gpu1: { present: true, loaded: true, fits: true },
      },
    },
    {
      model: "qwen2.5:14b",
      size: 9 * GB,
      need_gb: 9,
      need_from: "size reported by /api/tags",
      route: "gpu1",
      note: null,
      servers: {
        gpu2: { present: false, loaded: false, fits: true },
        small: { present: false, loaded: false, fits: false },
        gpu1: { present: true, loaded: false, fits: true },
      },
    },
  ]);

  const admin = Readable.from([`${proxy.adminToken}\n`]);
  const through = await runClient(["models", "list", "--json", "--url", proxy.url, "--token-stdin"], admin);
  assert.equal(through.code, 0, through.err);
  assert.deepEqual(JSON.parse(through.out), inv, "the proxy's inventory is the same matrix");

  const table = await runClient(["models", "list", "--config", proxy.file, "--env", "test"]);
  assert.equal(table.code, 0, table.err);
  assert.equal(
    table.out,
    [
      "MODEL          SIZE    ROUTE  gpu2  small    gpu1",
      "llama3:latest  4.7 GB  gpu2   yes   too big  loaded",
      "qwen2.5:14b    9 GB    gpu1   -     too big  yes",
    ].join("\n"),
  );
});

test("models list names a down server and the models it had, with why they cannot be routed there", async (t) => {
  const { gpu1, proxy } = await fleet(t);
  await gpu1.kill();
  await waitFor(
    "gpu1 to be down",
    () => proxy.server.fleet.servers().find((s) => s.key === "gpu1")?.health === "down",
  );
  const admin = Readable.from([`${proxy.adminToken}\n`]);
  const r = await runClient(["models", "list", "--url", proxy.url, "--token-stdin"], admin);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split("\n");
  assert.equal(lines[0], "MODEL          SIZE    ROUTE  gpu2  small    gpu1 (down)");
  // Loaded no more: a down server holds nothing anyone can use.
  assert.equal(lines[1], "llama3:latest  4.7 GB  gpu2   yes   too big  yes");
  // Where routing sends it meanwhile is routing's business; that it is only on gpu1 is said.
  assert.match(lines[2]!, /^qwen2\.5:14b {4}9 GB {4}\S+ +- +too big {2}yes$/);
  assert.match(r.out, /\nqwen2\.5:14b: [^\n]*gpu1[^\n]*\n/);
  assert.match(r.out, /\ngpu1 is down: /);
});

test("through the proxy: the token login stored for that URL, and a user sees only what the policy allows", async (t) => {
  clientHome(t);
  const { proxy } = await fleet(t);
  const store = openStore(proxy.config.database);
  const bob = store.users.create("bob", { policy: "qwen-only" }).token;
  store.close();
  proxy.server.auth.refresh();
  // Policies are read from the config; this one is added by a reload, as an operator would.
  writeFileSync(
    proxy.file,
    `${readFileSync(proxy.file, "utf8").replace(/^test:\n/, 'test:\n  policies:\n    qwen-only:\n      models: ["qwen*"]\n')}`,
  );
  proxy.server.reload(loadConfig({ file: proxy.file, env: "test" }).config);

  assert.equal((await login(proxy.url, proxy.adminToken)).code, 0);
  const asAdmin = await runClient(["models", "list", "--json", "--url", proxy.url]);
  assert.equal(asAdmin.code, 0, asAdmin.err);
  assert.deepEqual(
    JSON.parse(asAdmin.out).models.map((m: { model: string }) => m.model),
    ["llama3:latest", "qwen2.5:14b"],
  );

  const asBob = await runClient(
    ["models", "list", "--json", "--url", proxy.url, "--token-stdin"],
    Readable.from([`${bob}\n`]),
  );
  assert.equal(asBob.code, 0, asBob.err);
  assert.deepEqual(
    JSON.parse(asBob.out).models.map((m: { model: string }) => m.model),
    ["qwen2.5:14b"],
  );
});
