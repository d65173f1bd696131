import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { test } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { stringify } from "yaml";
import { loadConfig } from "../lib/config/load.js";
import { silentLog } from "../lib/log/app-log.js";
import { startServer } from "../lib/server.js";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { post, section, startProxy, waitFor } from "./helpers.js";

// Policies as a client meets them (SPEC §11): the refusals reach the ollama client as an
// error it raises and the openai SDK as its typed errors, nothing refused reaches a server,
// the listings show only what a user may use, and the body rules are what the backend sees.

const MODELS = [{ name: "llama3:latest" }, { name: "qwen2.5:7b" }, { name: "llama3.1:70b" }];

const POLICIES = {
  default: { models: ["*"] },
  batch: { models: ["llama3*", "qwen*", "!*70b*"], requests_per_minute: 2 },
  narrow: { models: ["qwen*"], max_concurrent: 1 },
  clamp: { options: { num_ctx_max: 4096, num_predict_max: 100, keep_alive: "5m" } },
  quota: { tokens_per_day: 20 },
};

/** A user under `policy`, made the way the CLI makes one (another connection); the server reloads its tokens at once. */
function userWith(
  p: { config: { database: string }; server: { auth: { refresh(): void } } },
  name: string,
  policy: string,
): string {
  const store = openStore(p.config.database);
  try {
    return store.users.create(name, { policy }).token;
  } finally {
    store.close();
    p.server.auth.refresh();
  }
}

test("a model outside the allow-list: 403 naming it, raised by both clients, never sent to a server", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu", models: MODELS });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { policies: POLICIES } });
  const token = userWith(p, "bob", "batch");

  const ollama = new Ollama({ host: p.url, headers: { authorization: `Bearer ${token}` } });
  await assert.rejects(
    ollama.chat({ model: "llama3.1:70b", messages: [{ role: "user", content: "hi" }] }),
    (err: Error & { status_code?: number }) =>
      err.name === "ResponseError" &&
      err.status_code === 403 &&
      /model "llama3\.1:70b" is not allowed/.test(err.message),
  );
  const openai = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: token, maxRetries: 0 });
  await assert.rejects(
    openai.chat.completions.create({ model: "llama3.1:70b", messages: [{ role: "user", content: "hi" }] }),
    (err: unknown) => err instanceof OpenAI.PermissionDeniedError && /llama3\.1:70b/.test(err.message),
  );
  // /api/show and embeddings name a model too.
  const show = await post(
    `${p.url}/api/show`,
    { model: "llama3.1:70b" },
    { authorization: `Bearer ${token}` },
  );
  assert.equal(show.status, 403);
  const embed = await post(
    `${p.url}/api/embed`,
    { model: "llama3.1:70b", input: "x" },
    { authorization: `Bearer ${token}` },
  );
  assert.equal(embed.status, 403);
  assert.deepEqual(gpu.work(), [], "nothing refused reached the server");

  // What the policy allows goes through.
  const ok = await ollama.chat({
    model: "qwen2.5:7b",
    messages: [{ role: "user", content: "hi" }],
    stream: false,
  });
  assert.equal(ok.done, true);
});

test("listings and /proxy/me show a user only what it may use", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu", models: MODELS.map((m) => ({ ...m, loaded: true })) });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { policies: POLICIES } });
  const token = userWith(p, "carol", "narrow");
  const auth = { authorization: `Bearer ${token}` };

  const tags = (await (await fetch(`${p.url}/api/tags`, { headers: auth })).json()) as {
    models: { name: string }[];
  };
  assert.deepEqual(
    tags.models.map((m) => m.name),
    ["qwen2.5:7b"],
  );
  const ps = (await (await fetch(`${p.url}/api/ps`, { headers: auth })).json()) as {
    models: { name: string }[];
  };
  assert.deepEqual(
    ps.models.map((m) => m.name),
    ["qwen2.5:7b"],
  );
  const openai = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: token, maxRetries: 0 });
  assert.deepEqual(
    (await openai.models.list()).data.map((m) => m.id),
    ["qwen2.5:7b"],
  );
  await assert.rejects(openai.models.retrieve("llama3"), OpenAI.NotFoundError);
  const me = (await (await fetch(`${p.url}/proxy/me`, { headers: auth })).json()) as Record<string, unknown>;
  assert.equal(me.policy, "narrow");
  assert.deepEqual(me.models, ["qwen2.5:7b"]);

  // alice has no policy of her own: `default` lets her see everything.
  const all = (await (await fetch(`${p.url}/api/tags`, { headers: p.auth })).json()) as { models: unknown[] };
  assert.equal(all.models.length, 3);
});

test("requests_per_minute: OpenAI's headers on every answer, then a 429 the openai SDK raises as RateLimitError", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu", models: MODELS });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { policies: POLICIES } });
  const token = userWith(p, "dave", "batch");
  const body = { model: "llama3", prompt: "hi", stream: false };

  const first = await post(`${p.url}/api/generate`, body, { authorization: `Bearer ${token}` });
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("x-ratelimit-limit-requests"), "2");
  assert.equal(first.headers.get("x-ratelimit-remaining-requests"), "1");
  assert.match(first.headers.get("x-ratelimit-reset-requests") ?? "", /^\d+(\.\d+)?(ms|s)$/);
  const second = await post(`${p.url}/api/generate`, body, { authorization: `Bearer ${token}` });
  assert.equal(second.headers.get("x-ratelimit-remaining-requests"), "0");

  const openai = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: token, maxRetries: 0 });
  await assert.rejects(
    openai.chat.completions.create({ model: "llama3", messages: [{ role: "user", content: "hi" }] }),
    (err: unknown) =>
      err instanceof OpenAI.RateLimitError &&
      Number(err.headers?.get("retry-after")) >= 1 &&
      err.headers?.get("x-ratelimit-remaining-requests") === "0",
  );
  assert.equal(gpu.work().length, 2, "the refused request never reached the server");
});

test("max_concurrent counts what is in flight: the next request gets 429 with Retry-After until one ends", async (t) => {
  const gpu = await startFakeOllama({
    name: "gpu",
    models: MODELS,
    behaviour: { chunks: 20, intervalMs: 25 },
  });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { policies: POLICIES } });
  const token = userWith(p, "erin", "narrow");
  const auth = { authorization: `Bearer ${token}` };

  const running = post(`${p.url}/api/generate`, { model: "qwen2.5:7b", prompt: "long" }, auth);
  await waitFor("the first request to reach the server", () => gpu.inProgress() === 1);
  const refused = await post(`${p.url}/api/generate`, { model: "qwen2.5:7b", prompt: "x" }, auth);
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.match((refused.body as { error: string }).error, /already has 1 request in flight/);
  assert.equal((await running).status, 200);
  const after = await post(
    `${p.url}/api/generate`,
    { model: "qwen2.5:7b", prompt: "x", stream: false },
    auth,
  );
  assert.equal(after.status, 200);
});

test("options rules: num_ctx and num_predict clamped, keep_alive forced, as the backend sees the body", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu", models: MODELS });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { policies: POLICIES } });
  const token = userWith(p, "frank", "clamp");
  const ollama = new Ollama({ host: p.url, headers: { authorization: `Bearer ${token}` } });
  await ollama.generate({
    model: "llama3",
    prompt: "hi",
    stream: false,
    keep_alive: -1,
    options: { num_ctx: 131072, num_predict: 5000, temperature: 0.5 },
  });
  const seen = JSON.parse(gpu.work()[0]!.body) as { keep_alive: unknown; options: Record<string, unknown> };
  assert.equal(seen.keep_alive, "5m");
  assert.deepEqual(seen.options, { num_ctx: 4096, num_predict: 100, temperature: 0.5 });
  assert.equal(Number(gpu.work()[0]!.headers["content-length"]), gpu.work()[0]!.raw.length);

  // A user without options rules: the body goes byte for byte.
  const raw = '{"model":"llama3","prompt":"hi","stream":false,"keep_alive":-1,"options":{"num_ctx":131072}}';
  await post(`${p.url}/api/generate`, raw, p.auth);
  assert.equal(gpu.work()[1]!.body, raw);
});

test("tokens_per_day: counted from the answers, refused until midnight UTC, and still spent after a restart", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu", models: MODELS, behaviour: { promptTokens: 7 } });
  t.after(() => gpu.close());
  const first = await startLoggedProxy(t, [gpu], { extra: { policies: POLICIES } });
  const token = userWith(first, "gina", "quota");
  const auth = { authorization: `Bearer ${token}` };
  // Each answer reports 7 prompt + 3 completion tokens (the fake's three chunks).
  for (let i = 0; i < 2; i++) {
    const r = await post(`${first.url}/api/generate`, { model: "llama3", prompt: "hi", stream: false }, auth);
    assert.equal(r.status, 200);
  }
  const spent = await post(`${first.url}/api/generate`, { model: "llama3", prompt: "hi" }, auth);
  assert.equal(spent.status, 429);
  assert.match(
    (spent.body as { error: string }).error,
    /has used 20 of the 20 tokens per day that policy "quota" allows; the quota resets at midnight UTC/,
  );
  const untilMidnight = (Date.UTC(...utcTomorrow()) - Date.now()) / 1000;
  assert.ok(
    Math.abs(Number(spent.headers.get("retry-after")) - untilMidnight) < 5,
    "Retry-After is midnight UTC",
  );
  await first.waitForRows(3);
  await first.close();

  // A new server on the same database (what a restart is) reads today's use back from the request log.
  const store = openStore(first.config.database);
  const again = await startServer({ config: first.config, store, log: silentLog(), port: 0 });
  t.after(async () => {
    await again.close(0);
    store.close();
  });
  const openai = new OpenAI({ baseURL: `${again.url}/v1`, apiKey: token, maxRetries: 0 });
  await assert.rejects(
    openai.chat.completions.create({ model: "llama3", messages: [{ role: "user", content: "hi" }] }),
    (err: unknown) => err instanceof OpenAI.RateLimitError && /20 of the 20 tokens per day/.test(err.message),
  );
});

test("a user whose policy is not in the config is refused (fail closed); a reload changes what a policy allows", async (t) => {
  const gpu = await startFakeOllama({ name: "gpu", models: MODELS });
  t.after(() => gpu.close());
  const p = await startProxy(t, [gpu], { extra: { policies: POLICIES } });
  const token = userWith(p, "hank", "narrow");
  const auth = { authorization: `Bearer ${token}` };
  assert.equal((await post(`${p.url}/api/show`, { model: "llama3" }, auth)).status, 403);

  // narrow now allows llama3 too.
  const reload = (policies: Record<string, unknown>) => {
    writeFileSync(
      p.file,
      stringify({ test: { database: p.config.database, ...section([gpu], { policies }) } }),
    );
    p.server.reload(loadConfig({ file: p.file, env: "test" }).config);
  };
  reload({ ...POLICIES, narrow: { models: ["qwen*", "llama3"] } });
  assert.equal((await post(`${p.url}/api/show`, { model: "llama3" }, auth)).status, 200);

  // narrow is gone: hank gets nothing, not everything.
  const { narrow: _, ...rest } = POLICIES;
  reload(rest);
  const refused = await post(`${p.url}/api/tags`, "", auth);
  assert.equal(refused.status, 403);
  assert.match(
    (refused.body as { error: string }).error,
    /assigned policy "narrow", which this proxy does not define/,
  );
  assert.equal((await fetch(`${p.url}/api/tags`, { headers: p.auth })).status, 200, "others are served");
});

function utcTomorrow(): [number, number, number] {
  const d = new Date();
  return [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1];
}
