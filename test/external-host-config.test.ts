import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "../lib/config/load.js";
import { startExternal } from "./external-helpers.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startFakeOpenAI } from "./fixtures/fake-openai.js";
import { post, startProxy, tempDir, writeConfig } from "./helpers.js";

// external_hosts: every key of the issue loads, the type is inferred from the name, base_path
// is honoured, and a missing API key variable disables that host — said at start and in
// /health — without stopping the proxy.

test("a missing API key variable disables the host, says why, and the proxy serves on", async (t) => {
  const x = await startExternal(t, "openai", { environ: {} });
  const warned = x.logLines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.msg === "external host disabled");
  assert.ok(warned, "a warning at start");
  assert.equal(warned.host, "openai");
  assert.equal(warned.reason, "environment variable TEST_OPENAI_KEY is not set");

  const health = await fetch(`${x.url}/health`);
  assert.equal(health.status, 200);
  const report = (await health.json()) as { status: string; external_hosts: unknown[] };
  assert.equal(report.status, "degraded");
  assert.deepEqual(report.external_hosts, [
    {
      name: "openai",
      type: "openai",
      usable: false,
      reason: "environment variable TEST_OPENAI_KEY is not set",
    },
  ]);

  const list = await x.ollama.list();
  assert.deepEqual(
    list.models.map((m) => m.name),
    ["llama3:latest"],
  );
  const headers = { authorization: `Bearer ${x.userToken}` };
  const native = await post(
    `${x.url}/api/chat`,
    { model: x.model, messages: [{ role: "user", content: "hi" }] },
    headers,
  );
  assert.equal(native.status, 503);
  assert.match(
    (native.body as { error: string }).error,
    /external host "openai", which is not usable \(see \/health\)/,
  );
  const v1 = await post(
    `${x.url}/v1/chat/completions`,
    { model: x.model, messages: [{ role: "user", content: "hi" }] },
    headers,
  );
  assert.equal(v1.status, 503);
  assert.equal((v1.body as { error: { code: string } }).error.code, "no_server");
  assert.equal(x.fake.received.length, 0);
  // The Ollama fleet is unaffected.
  const ok = await x.ollama.generate({ model: "llama3", prompt: "hi", stream: false });
  assert.equal(ok.done, true);
});

test("with its key set, the host's models are listed in /api/tags, /v1/models and /api/show", async (t) => {
  const x = await startExternal(t, "anthropic");
  const health = (await (await fetch(`${x.url}/health`)).json()) as { status: string };
  assert.equal(health.status, "ok");
  const tags = await x.ollama.list();
  const ext = tags.models.find((m) => m.name === x.model);
  assert.ok(ext, "listed in /api/tags");
  assert.equal(ext.details.format, "external");
  const models = await x.openai.models.list();
  assert.deepEqual(models.data.map((m) => [m.id, m.owned_by]).sort(), [
    [x.model, "anthropic"],
    ["llama3:latest", "library"],
  ]);
  assert.equal((await x.openai.models.retrieve(x.model)).id, x.model);
  const show = await x.ollama.show({ model: x.model });
  assert.equal(show.details.family, "anthropic");
  assert.ok(show.capabilities.includes("completion"));
  assert.equal(x.fake.received.length, 0, "listing never calls the provider");
});

test("the type is inferred from the name, an explicit type wins, base_path defaults to /v1", (t) => {
  const dir = tempDir(t);
  const { config } = writeConfig(dir, {
    servers: {},
    external_hosts: {
      claude: { host: "api.anthropic.com", api_key_env: "ANTHROPIC_API_KEY" },
      groq: {
        host: "api.groq.com",
        port: 443,
        protocol: "https",
        api_key_env: "GROQ_API_KEY",
        base_path: "/openai/v1/",
      },
      gateway: {
        host: "llm.internal",
        port: 8080,
        protocol: "http",
        name: "claude-gateway",
        type: "openai",
        enabled: false,
      },
    },
  });
  const byKey = new Map(config.externalHosts.map((h) => [h.key, h]));
  assert.equal(byKey.get("claude")!.type, "anthropic");
  assert.equal(byKey.get("claude")!.basePath, "/v1");
  assert.equal(byKey.get("claude")!.origin, "https://api.anthropic.com:443");
  assert.equal(byKey.get("groq")!.type, "openai");
  assert.equal(byKey.get("groq")!.basePath, "/openai/v1");
  assert.equal(byKey.get("gateway")!.type, "openai", "an explicit type beats a name that says claude");
  assert.equal(byKey.get("gateway")!.enabled, false);
});

test("a bad external host entry stops loading with its path named", (t) => {
  const dir = tempDir(t);
  assert.throws(
    () => writeConfig(dir, { external_hosts: { x: { host: "h", type: "gemini", base_path: "v1" } } }),
    (err: Error) =>
      /external_hosts\.x\.type/.test(err.message) && /external_hosts\.x\.base_path/.test(err.message),
  );
});

test("the original proxy's config, external hosts and all, loads unchanged", (t) => {
  const dir = tempDir(t);
  const { file } = writeConfig(
    dir,
    {
      proxy_port: 11434,
      servers: {
        high_performance: {
          host: "localhost",
          port: 11435,
          name: "high_performance",
          priority: 1,
          max_memory_gb: null,
          enabled: true,
        },
      },
      external_hosts: {
        openai: {
          host: "api.openai.com",
          port: 443,
          protocol: "https",
          api_key_env: "OPENAI_API_KEY",
          name: "openai",
          enabled: false,
        },
      },
      model_config: { explicit_assignments: { "gpt-4": "openai", "claude-3-sonnet": "anthropic" } },
    },
    "production",
  );
  const { config } = loadConfig({ file, env: "production", cwd: dir });
  assert.equal(config.externalHosts[0]!.type, "openai");
  assert.equal(config.models.explicitAssignments.get("gpt-4:latest")!.target, "openai");
});

test("a custom base_path (OpenRouter's /api/v1) is where requests go", async (t) => {
  const fake = await startFakeOpenAI({ base: "/api/v1", models: ["openai/gpt-4o-mini"] });
  t.after(() => fake.close());
  const backend = await startFakeOllama();
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend], {
    extra: {
      external_hosts: {
        openrouter: {
          host: "127.0.0.1",
          port: fake.port,
          protocol: "http",
          base_path: "/api/v1",
          api_key_env: "OR_KEY",
        },
      },
      model_config: { explicit_assignments: { "openai/gpt-4o-mini": "openrouter" } },
    },
    environ: { OR_KEY: fake.key },
  });
  const r = await post(
    `${proxy.url}/api/chat`,
    { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: false },
    proxy.auth,
  );
  assert.equal(r.status, 200);
  assert.equal(fake.received[0]!.path, "/api/v1/chat/completions");
  assert.equal((r.body as { message: { content: string } }).message.content, fake.answers[0]!.text);
});
