import assert from "node:assert/strict";
import { test } from "node:test";
import type { HealthReport } from "../lib/observe/health.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { runCli, startProxy, waitFor } from "./helpers.js";

// `health` for people: a status line, then a table per kind of thing — never raw JSON in a
// cell — and a server that is down shows no loaded models (what it had loaded is history).

test("servers, external hosts and components as tables; a down server's loaded models are not shown", async (t) => {
  const a = await startFakeOllama({ name: "gpu1", models: [{ name: "llama3:latest", loaded: true }] });
  const b = await startFakeOllama({ name: "gpu2", models: [{ name: "qwen2.5:7b", loaded: true }] });
  t.after(() => Promise.all([a.close(), b.close()]));
  const proxy = await startProxy(t, [a, b], {
    extra: { external_hosts: { openai: { host: "api.openai.com", api_key_env: "OLP_TEST_UNSET_KEY" } } },
    environ: {},
  });
  await waitFor("both polled with their loaded models", async () => {
    const r = (await (await fetch(`${proxy.url}/health`)).json()) as HealthReport;
    return r.servers.every((s) => s.state === "up" && s.loaded.length === 1);
  });
  await b.kill();
  await waitFor(
    "gpu2 down",
    async () => {
      const r = (await (await fetch(`${proxy.url}/health`)).json()) as HealthReport;
      return r.servers.find((s) => s.name === "gpu2")?.state === "down";
    },
    15_000,
  );

  const r = await runCli(["health", "--url", proxy.url]);
  assert.equal(r.code, 1, r.out);
  const lines = r.out.split("\n");
  assert.match(
    lines[0]!,
    new RegExp(`^degraded — ollama-proxy \\S+ at ${proxy.url.replaceAll(".", "\\.")}, up \\d+ s$`),
  );
  const table = lines.slice(lines.indexOf("") + 1);
  assert.match(table[0]!, /^SERVER\s+STATE\s+LATENCY\s+MODELS\s+LOADED\s+IN FLIGHT\s+LAST ERROR$/);
  assert.match(table[1]!, /^gpu1\s+up\s+\d+(\.\d)? ms\s+1\s+llama3:latest\s+0$/);
  assert.match(table[2]!, /^gpu2\s+down\s+-\s+\d\s+-\s+0\s+\S/);
  assert.doesNotMatch(table[2]!, /qwen/, "no loaded models for a down server");
  assert.match(
    r.out,
    /^EXTERNAL HOST\s+TYPE\s+STATE\nopenai\s+openai\s+not usable: environment variable OLP_TEST_UNSET_KEY is not set$/m,
  );
  assert.doesNotMatch(r.out, /[{}]/, "no raw JSON anywhere");
});
