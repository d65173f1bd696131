import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { parseExposition, value } from "./fixtures/prometheus.js";
import { post, waitFor } from "./helpers.js";

test("/metrics is valid exposition format with bounded labels and scrape-time gauges", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", models: [{ name: "llama3:latest" }] });
  t.after(() => backend.close());
  const proxy = await startLoggedProxy(t, [backend], {
    extra: {
      external_hosts: { openai: { host: "127.0.0.1", port: 9, api_key_env: "NO_SUCH_KEY_VAR" } },
      model_config: { explicit_assignments: { "gpt-4o": "openai" } },
    },
  });
  const gen = await post(
    `${proxy.url}/api/generate`,
    { model: "llama3", prompt: "x", stream: false },
    proxy.auth,
  );
  assert.equal(gen.status, 200);
  // Junk names: each a 404 from the backend, none a label of its own. (Names outside Ollama's
  // grammar — quotes, backslashes, newlines — never get this far: 400 at the door.)
  for (let i = 0; i < 40; i++) {
    const r = await post(
      `${proxy.url}/api/generate`,
      { model: `junk-${i}_x.y:z-${i}`, prompt: "x" },
      proxy.auth,
    );
    assert.equal(r.status, 404);
  }
  const assigned = await post(`${proxy.url}/api/chat`, { model: "gpt-4o", messages: [] }, proxy.auth);
  assert.equal(assigned.status, 503);
  // A stream held open by the backend: in flight at scrape time.
  backend.behaviour.stallAfterChunks = 1;
  const held = new AbortController();
  const stalled = await fetch(`${proxy.url}/api/generate`, {
    method: "POST",
    headers: proxy.auth,
    body: JSON.stringify({ model: "llama3", prompt: "x" }),
    signal: held.signal,
  });
  assert.equal(stalled.status, 200);

  const res = await fetch(`${proxy.url}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const fams = parseExposition(await res.text());

  assert.equal(fams.get("ollama_proxy_requests_total")?.type, "counter");
  assert.equal(
    value(fams, "ollama_proxy_requests_total", {
      code: "200",
      endpoint: "/api/generate",
      server: "gpu1",
      model: "llama3:latest",
    }),
    1,
  );
  assert.equal(
    value(fams, "ollama_proxy_requests_total", {
      code: "404",
      endpoint: "/api/generate",
      server: "gpu1",
      model: "other",
    }),
    40,
  );
  assert.equal(
    value(fams, "ollama_proxy_requests_total", {
      code: "503",
      endpoint: "/api/chat",
      server: "none",
      model: "gpt-4o",
    }),
    1,
  );
  // The HTTP convention's label name (code); the old one is gone.
  assert.ok(fams.get("ollama_proxy_requests_total")!.samples.every((s) => !("status" in s.labels)));
  const models = new Set(fams.get("ollama_proxy_requests_total")!.samples.map((s) => s.labels.model));
  assert.deepEqual([...models].sort(), ["gpt-4o", "llama3:latest", "other"]);

  assert.equal(value(fams, "ollama_proxy_in_flight_requests", { server: "gpu1" }), 1);
  assert.equal(value(fams, "ollama_proxy_server_up", { server: "gpu1" }), 1);
  assert.equal(value(fams, "ollama_proxy_external_host_usable", { host: "openai" }), 0);
  assert.equal(
    value(fams, "ollama_proxy_prompt_tokens_total", { server: "gpu1", model: "llama3:latest" }),
    7,
  );
  assert.equal(
    value(fams, "ollama_proxy_completion_tokens_total", { server: "gpu1", model: "llama3:latest" }),
    3,
  );
  assert.equal(fams.get("ollama_proxy_request_duration_seconds")?.type, "histogram");
  assert.equal(
    value(fams, "ollama_proxy_request_duration_seconds_count", {
      endpoint: "/api/generate",
      server: "gpu1",
      model: "other",
    }),
    40,
  );
  assert.equal(fams.get("ollama_proxy_time_to_first_token_seconds")?.type, "histogram");
  assert.equal(
    value(fams, "ollama_proxy_time_to_first_token_seconds_count", { server: "gpu1", model: "llama3:latest" }),
    1,
  );
  assert.equal(value(fams, "ollama_proxy_request_log_dropped_total"), 0);
  assert.equal(fams.get("ollama_proxy_request_log_dropped_total")?.type, "counter");
  assert.ok(fams.has("process_cpu_seconds_total"));

  // Once the stream ends the gauge is back to 0 at the next scrape.
  held.abort();
  await waitFor("the held stream to leave the fleet's in-flight count", async () => {
    const again = parseExposition(await (await fetch(`${proxy.url}/metrics`)).text());
    return value(again, "ollama_proxy_in_flight_requests", { server: "gpu1" }) === 0;
  });
});

test("/metrics: a token when configured, 404 when disabled, in the Ollama error shape", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const guarded = await startLoggedProxy(t, [backend], { extra: { metrics: { token: "scrape-secret" } } });
  const refused = await fetch(`${guarded.url}/metrics`, { headers: { authorization: "Bearer wrong" } });
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get("www-authenticate") ?? "", /^Bearer/);
  assert.deepEqual(await refused.json(), { error: "unauthorized: /metrics needs the metrics token" });
  const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: "Bearer scrape-secret" } });
  assert.equal(ok.status, 200);
  parseExposition(await ok.text());

  const off = await startLoggedProxy(t, [backend], { extra: { metrics: { enabled: false } } });
  const gone = await fetch(`${off.url}/metrics`);
  assert.equal(gone.status, 404);
  assert.deepEqual(await gone.json(), { error: "metrics are disabled in the config" });
  assert.equal((await fetch(`${off.url}/health`)).status, 200);
});

test("the strict parser refuses what Prometheus would refuse", () => {
  const bad = [
    "x 1", // no newline at the end
    '# TYPE x counter\nx{a="1"} 1\nx{a="1"} 2\n', // duplicate series
    "# TYPE x gauge\nx{a=1} 1\n", // unquoted label value
    "# TYPE x gauge\nx 1 2 3\n", // junk after the timestamp
    "y 1\n", // no TYPE
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n', // not cumulative
  ];
  for (const text of bad) assert.throws(() => parseExposition(text), text);
});
