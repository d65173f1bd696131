import assert from "node:assert/strict";
import { test } from "node:test";
import { KEY_VAR, type ProviderKind, startExternal } from "./external-helpers.js";
import { post, waitFor } from "./helpers.js";

// A provider's error reaches the client in the client's dialect with the provider's message:
// Ollama's {"error": "..."} under /api, OpenAI's {"error": {message, type, code}} under /v1.
// Its status is kept where the client can act on it (400, 404, 429 + Retry-After); the
// provider's own trouble is 502/503; its refusal of the operator's key is never a 401.

const cases: {
  status: number;
  type: string;
  expect: number;
  code: string;
  openaiType: string;
  retryAfter?: string;
}[] = [
  {
    status: 400,
    type: "invalid_request_error",
    expect: 400,
    code: "upstream_rejected",
    openaiType: "invalid_request_error",
  },
  {
    status: 404,
    type: "not_found_error",
    expect: 404,
    code: "upstream_not_found",
    openaiType: "not_found_error",
  },
  {
    status: 429,
    type: "rate_limit_error",
    expect: 429,
    code: "upstream_rate_limited",
    openaiType: "rate_limit_error",
    retryAfter: "17",
  },
  { status: 500, type: "api_error", expect: 502, code: "upstream_error", openaiType: "server_error" },
  {
    status: 529,
    type: "overloaded_error",
    expect: 503,
    code: "upstream_overloaded",
    openaiType: "server_error",
  },
];

for (const kind of ["openai", "anthropic"] as ProviderKind[]) {
  test(`${kind} host HTTP errors reach both dialects with status, message and Retry-After`, async (t) => {
    const x = await startExternal(t, kind);
    const headers = { authorization: `Bearer ${x.userToken}` };
    for (const c of cases) {
      const message = `provider says ${c.status} (${c.type})`;
      x.fake.behaviour.failWith = { status: c.status, type: c.type, message, retryAfter: c.retryAfter };

      const native = await post(
        `${x.url}/api/chat`,
        { model: x.model, messages: [{ role: "user", content: "hi" }] },
        headers,
      );
      assert.equal(native.status, c.expect, `${c.status} on /api/chat`);
      assert.deepEqual(native.body, { error: `${kind}: ${message}` });
      assert.equal(native.headers.get("retry-after"), c.retryAfter ?? null);
      assert.equal(native.headers.get("x-ollama-proxy-server"), kind);

      const v1 = await post(
        `${x.url}/v1/chat/completions`,
        { model: x.model, stream: true, messages: [{ role: "user", content: "hi" }] },
        headers,
      );
      assert.equal(v1.status, c.expect, `${c.status} on /v1/chat/completions`);
      assert.deepEqual(v1.body, {
        error: { message: `${kind}: ${message}`, type: c.openaiType, code: c.code },
      });
      assert.equal(v1.headers.get("retry-after"), c.retryAfter ?? null);

      // The official clients see the same thing as their own error types.
      await assert.rejects(
        x.ollama.chat({ model: x.model, messages: [{ role: "user", content: "hi" }], stream: true }),
        (err: Error & { status_code?: number }) =>
          err.message === `${kind}: ${message}` && err.status_code === c.expect,
      );
      await assert.rejects(
        x.openai.chat.completions.create({ model: x.model, messages: [{ role: "user", content: "hi" }] }),
        (err: Error & { status?: number }) => err.status === c.expect && err.message.includes(message),
      );
    }
    // Still up, and the provider answers again.
    x.fake.behaviour.failWith = null;
    const ok = await x.ollama.chat({
      model: x.model,
      messages: [{ role: "user", content: "again" }],
      stream: false,
    });
    assert.equal(ok.message.content, x.fake.answers[x.fake.answers.length - 1]!.text);
  });

  test(`${kind} host refusing the operator's key: 502 to the client, an error in the log, the key nowhere`, async (t) => {
    const wrong = `sk-wrong-${kind}-0123456789abcdef`;
    const x = await startExternal(t, kind, { environ: { [KEY_VAR[kind]]: wrong } });
    const headers = { authorization: `Bearer ${x.userToken}` };
    const native = await post(`${x.url}/api/generate`, { model: x.model, prompt: "hi" }, headers);
    assert.equal(native.status, 502);
    const message = (native.body as { error: string }).error;
    assert.match(message, /refused the proxy's API key/);
    assert.match(message, /not a problem with your token/);
    assert.ok(!native.text.includes(wrong));
    const v1 = await post(
      `${x.url}/v1/chat/completions`,
      { model: x.model, messages: [{ role: "user", content: "hi" }] },
      headers,
    );
    assert.equal(v1.status, 502);
    assert.equal((v1.body as { error: { code: string } }).error.code, "upstream_credentials");
    assert.ok(!v1.text.includes(wrong));
    assert.equal(v1.headers.get("www-authenticate"), null);

    await waitFor("the configuration error in the log", () =>
      x.logLines.some((l) => l.includes("refused the API key")),
    );
    const line = JSON.parse(x.logLines.find((l) => l.includes("refused the API key"))!) as Record<
      string,
      unknown
    >;
    assert.equal(line.level, 50, "logged as an error");
    assert.equal(line.keyVariable, KEY_VAR[kind]);
    assert.equal(line.host, kind);
    for (const l of x.logLines) assert.ok(!l.includes(wrong), "the key never reaches the log");
  });

  test(`${kind} host SSE error event mid-stream ends the stream in the client's dialect`, async (t) => {
    const x = await startExternal(t, kind, { behaviour: { errorAfterChunks: 2 } });
    const words: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const p of await x.ollama.chat({
          model: x.model,
          messages: [{ role: "user", content: "hi" }],
          stream: true,
        }))
          words.push(p.message.content);
      })(),
      (err: Error) => (kind === "openai" ? /server had an error/ : /Overloaded/).test(err.message),
    );
    assert.equal(
      words.join(""),
      x.fake.answers[0]!.text.split(/(?<= )/)
        .slice(0, 2)
        .join(""),
    );

    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        const s = await x.openai.chat.completions.create({
          model: x.model,
          messages: [{ role: "user", content: "hi" }],
          stream: true,
        });
        for await (const c of s) seen.push(c.choices[0]?.delta.content ?? "");
      })(),
      (err: Error) => (kind === "openai" ? /server had an error/ : /Overloaded/).test(err.message),
    );
    assert.equal(
      seen.join(""),
      x.fake.answers[1]!.text.split(/(?<= )/)
        .slice(0, 2)
        .join(""),
    );
    await waitFor("both requests recorded", () => x.done.length === 2);
    assert.ok(x.done.every((c) => c.errorCode !== null && c.status === 200 && !c.clientAborted));
  });

  test(`${kind} host failing before the first token gives a proper error status`, async (t) => {
    const x = await startExternal(t, kind, { behaviour: { errorAfterChunks: 0 } });
    const r = await post(
      `${x.url}/api/chat`,
      { model: x.model, messages: [{ role: "user", content: "hi" }] },
      { authorization: `Bearer ${x.userToken}` },
    );
    // Nothing was sent yet, so the client gets a status, not a broken stream.
    assert.equal(r.status, kind === "openai" ? 502 : 503);
    assert.match(
      (r.body as { error: string }).error,
      kind === "openai" ? /server had an error/ : /Overloaded/,
    );
  });

  test(`${kind} host dropping the connection mid-stream ends the Ollama stream with an error line`, async (t) => {
    const x = await startExternal(t, kind, { behaviour: { dieAfterChunks: 2 } });
    const r = await post(
      `${x.url}/api/chat`,
      { model: x.model, messages: [{ role: "user", content: "hi" }] },
      { authorization: `Bearer ${x.userToken}` },
    );
    assert.equal(r.status, 200);
    const lines = r.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 3);
    assert.match(String(lines[2]!.error), new RegExp(`${kind} stopped mid-response`));
    await waitFor("the request recorded", () => x.done.length === 1);
    assert.equal(x.done[0]!.errorCode, "upstream_stream_error");
  });
}

test("a provider that goes silent mid-stream is cut after upstream_idle_timeout_ms, in-band, and its request closed", async (t) => {
  const x = await startExternal(t, "anthropic", {
    behaviour: { stallAfterChunks: 1 },
    extra: { limits: { upstream_idle_timeout_ms: 300 } },
  });
  const r = await post(
    `${x.url}/api/generate`,
    { model: x.model, prompt: "hi" },
    { authorization: `Bearer ${x.userToken}` },
  );
  assert.equal(r.status, 200);
  const lines = r.text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines[0]!.response, x.fake.answers[0]!.text.split(/(?<= )/)[0]);
  assert.match(
    String(lines[lines.length - 1]!.error),
    /anthropic stopped mid-response \(no data for 0\.3 s\)/,
  );
  await waitFor("the provider's request to be closed", () => x.fake.inProgress() === 0);
});

test("an unreachable provider: 502 in the client's dialect, and the proxy serves on", async (t) => {
  const x = await startExternal(t, "openai");
  await x.fake.close();
  const headers = { authorization: `Bearer ${x.userToken}` };
  const native = await post(
    `${x.url}/api/chat`,
    { model: x.model, messages: [{ role: "user", content: "hi" }] },
    headers,
  );
  assert.equal(native.status, 502);
  assert.match((native.body as { error: string }).error, /^openai is unreachable \(ECONNREFUSED\)$/);
  const v1 = await post(
    `${x.url}/v1/chat/completions`,
    { model: x.model, messages: [{ role: "user", content: "hi" }] },
    headers,
  );
  assert.equal(v1.status, 502);
  assert.equal((v1.body as { error: { code: string } }).error.code, "upstream_unreachable");
  const ok = await x.ollama.generate({ model: "llama3", prompt: "hi", stream: false });
  assert.equal(ok.done, true);
});

for (const kind of ["openai", "anthropic"] as ProviderKind[]) {
  test(`${kind} host answering 200 with garbage: 502 in both dialects`, async (t) => {
    const x = await startExternal(t, kind, { behaviour: { garbage: true } });
    const headers = { authorization: `Bearer ${x.userToken}` };
    for (const stream of [true, false]) {
      const native = await post(
        `${x.url}/api/chat`,
        { model: x.model, stream, messages: [{ role: "user", content: "hi" }] },
        headers,
      );
      assert.equal(native.status, 502);
      assert.deepEqual(native.body, { error: "the external host sent an answer that is not a JSON object" });
    }
    const v1 = await post(
      `${x.url}/v1/chat/completions`,
      { model: x.model, messages: [{ role: "user", content: "hi" }] },
      headers,
    );
    if (kind === "anthropic") {
      assert.equal(v1.status, 502);
      assert.equal((v1.body as { error: { code: string } }).error.code, "upstream_bad_response");
    } else {
      // Passed through: the client gets what the provider sent, as Ollama's own /v1 would.
      assert.equal(v1.status, 200);
      assert.equal(v1.text, "<html><body>502 Bad Gateway</body></html>");
    }
  });
}
