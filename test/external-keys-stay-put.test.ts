import assert from "node:assert/strict";
import { test } from "node:test";
import { startExternal } from "./external-helpers.js";
import { startFakeAnthropic } from "./fixtures/fake-anthropic.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startFakeOpenAI } from "./fixtures/fake-openai.js";
import { post, startProxy } from "./helpers.js";

// Each provider's key goes to that provider only, in its own header; the client's token and
// other credentials go to no one; no key appears in the log, /health or an error.

test("each key reaches only its own provider; the client's credentials reach none", async (t) => {
  const openai = await startFakeOpenAI();
  t.after(() => openai.close());
  const anthropic = await startFakeAnthropic();
  t.after(() => anthropic.close());
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend], {
    extra: {
      external_hosts: {
        openai: { host: "127.0.0.1", port: openai.port, protocol: "http", api_key_env: "K_OPENAI" },
        anthropic: { host: "127.0.0.1", port: anthropic.port, protocol: "http", api_key_env: "K_ANTHROPIC" },
      },
      model_config: { explicit_assignments: { "gpt-4o": "openai", "claude-sonnet-4-5": "anthropic" } },
    },
    environ: { K_OPENAI: openai.key, K_ANTHROPIC: anthropic.key },
  });
  const client = { ...proxy.auth, cookie: "session=secret-cookie", "proxy-authorization": "Basic c2VjcmV0" };
  for (const model of ["gpt-4o", "claude-sonnet-4-5", "llama3"]) {
    for (const path of ["/api/chat", "/v1/chat/completions"]) {
      const r = await post(
        `${proxy.url}${path}`,
        { model, messages: [{ role: "user", content: "hi" }], stream: false },
        client,
      );
      assert.equal(r.status, 200, `${model} via ${path}`);
    }
  }
  assert.equal(openai.received.length, 2);
  assert.equal(anthropic.received.length, 2);
  for (const r of openai.received) {
    assert.equal(r.headers.authorization, `Bearer ${openai.key}`);
    assert.equal(r.headers["x-api-key"], undefined);
  }
  for (const r of anthropic.received) {
    assert.equal(r.headers["x-api-key"], anthropic.key);
    assert.equal(r.headers.authorization, undefined);
  }
  const everything = [
    ...[...openai.received, ...anthropic.received].map((r) => ({
      path: r.path,
      headers: r.headers,
      body: r.raw,
    })),
    ...backend.received,
  ];
  for (const r of everything) {
    const seen = JSON.stringify(r.headers) + r.body;
    assert.ok(!seen.includes(proxy.userToken), `${r.path}: no client token`);
    assert.ok(
      !seen.includes("secret-cookie") && !seen.includes("c2VjcmV0"),
      `${r.path}: no client credentials`,
    );
  }
  for (const r of [...openai.received, ...backend.received])
    assert.ok(!JSON.stringify(r.headers).includes(anthropic.key));
  for (const r of [...anthropic.received, ...backend.received])
    assert.ok(!JSON.stringify(r.headers).includes(openai.key));

  const health = await (await fetch(`${proxy.url}/health`)).text();
  assert.ok(!health.includes(openai.key) && !health.includes(anthropic.key));
});

test("no provider key in the app log, even at debug level and on provider errors", async (t) => {
  const x = await startExternal(t, "openai");
  await x.ollama.chat({ model: x.model, messages: [{ role: "user", content: "hi" }], stream: false });
  x.fake.behaviour.failWith = {
    status: 500,
    type: "server_error",
    message: `internal error for key ${x.fake.key}`,
  };
  const r = await post(
    `${x.url}/api/chat`,
    { model: x.model, messages: [{ role: "user", content: "hi" }] },
    { authorization: `Bearer ${x.userToken}` },
  );
  assert.equal(r.status, 502);
  // A provider that echoes the key back does not get it past the proxy.
  assert.ok(!r.text.includes(x.fake.key));
  assert.match(r.text, /\[redacted\]/);
  assert.ok(x.logLines.length > 0);
  for (const l of x.logLines) {
    assert.ok(!l.includes(x.fake.key), "no key in the log");
    assert.ok(!l.includes(x.userToken), "no client token in the log");
  }
});
