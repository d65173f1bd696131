import assert from "node:assert/strict";
import { test } from "node:test";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { scrape, value } from "./fixtures/prometheus.js";
import { post } from "./helpers.js";

// What the policies refuse shows in /metrics by policy and reason, so that an operator sees a
// quota running out or a team hitting its allow-list before the complaints arrive.

test("policy refusals are counted by policy and reason: model, a limit, an undefined policy", async (t) => {
  const gpu = await startFakeOllama({
    name: "gpu",
    models: [{ name: "llama3:latest" }, { name: "qwen2.5:7b" }],
  });
  t.after(() => gpu.close());
  const proxy = await startLoggedProxy(t, [gpu], {
    extra: {
      policies: {
        default: { models: ["*"] },
        batch: { models: ["llama3*"], requests_per_minute: 1 },
      },
    },
  });
  const store = openStore(proxy.config.database);
  const bob = store.users.create("bob", { policy: "batch" }).token;
  const eve = store.users.create("eve", { policy: "gone" }).token;
  store.close();
  proxy.server.auth.refresh();
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const generate = (model: string, token: string) =>
    post(`${proxy.url}/api/generate`, { model, prompt: "x", stream: false }, as(token));

  assert.equal((await generate("qwen2.5:7b", bob)).status, 403, "not in batch's models");
  assert.equal((await generate("qwen2.5:7b", bob)).status, 403);
  assert.equal((await generate("llama3", bob)).status, 200);
  assert.equal((await generate("llama3", bob)).status, 429, "requests_per_minute: 1");
  assert.equal((await generate("llama3", eve)).status, 403, "a policy the config does not define");
  assert.equal((await generate("llama3", proxy.userToken)).status, 200, "default allows everything");

  const fams = await scrape(proxy.url);
  assert.equal(fams.get("ollama_proxy_policy_refusals_total")?.type, "counter");
  assert.equal(value(fams, "ollama_proxy_policy_refusals_total", { policy: "batch", reason: "model" }), 2);
  assert.equal(
    value(fams, "ollama_proxy_policy_refusals_total", { policy: "batch", reason: "requests_per_minute" }),
    1,
  );
  assert.equal(
    value(fams, "ollama_proxy_policy_refusals_total", { policy: "gone", reason: "undefined_policy" }),
    1,
  );
  assert.equal(fams.get("ollama_proxy_policy_refusals_total")?.samples.length, 3, "nothing else was refused");
});
