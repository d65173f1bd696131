import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { type ProviderKind, startExternal } from "./external-helpers.js";
import { post } from "./helpers.js";

// Requests for external models are read whole and checked while they are translated: a
// malformed one gets 400 in the client's dialect with what is wrong, reaches no provider, and
// leaves the proxy serving.

const user = [{ role: "user", content: "hi" }];

function nativeCases(model: string): [string, string, unknown, RegExp][] {
  return [
    ["/api/chat", "broken JSON after the model", `{"model": "${model}", "messages": [}`, /^invalid JSON: /],
    [
      "/api/chat",
      "messages not a list",
      { model, messages: "hi" },
      /^invalid request: messages must be a list$/,
    ],
    [
      "/api/chat",
      "an unknown role",
      { model, messages: [{ role: "robot", content: "x" }] },
      /messages\[0\]\.role must be/,
    ],
    [
      "/api/chat",
      "content not a string",
      { model, messages: [{ role: "user", content: 5 }] },
      /messages\[0\]\.content must be a string/,
    ],
    [
      "/api/chat",
      "a tool result with no call",
      { model, messages: [...user, { role: "tool", content: "x" }] },
      /must follow an assistant message with tool_calls/,
    ],
    [
      "/api/chat",
      "a number for temperature",
      { model, messages: user, options: { temperature: "hot" } },
      /options\.temperature must be a number/,
    ],
    [
      "/api/chat",
      "a bad format",
      { model, messages: user, format: 42 },
      /format must be "json" or a JSON schema/,
    ],
    [
      "/api/chat",
      "images not base64 strings",
      { model, messages: [{ role: "user", content: "x", images: [1] }] },
      /images must be a list of base64 strings/,
    ],
    ["/api/generate", "prompt not a string", { model, prompt: ["a"] }, /prompt must be a string/],
    [
      "/api/generate",
      "body not an object after the model",
      `{"model": "${model}"} trailing`,
      /^invalid JSON: /,
    ],
  ];
}

for (const kind of ["openai", "anthropic"] as ProviderKind[]) {
  test(`malformed Ollama requests for a ${kind}-hosted model: 400 {"error": "..."}`, async (t) => {
    const x = await startExternal(t, kind);
    const headers = { authorization: `Bearer ${x.userToken}` };
    for (const [path, what, body, message] of nativeCases(x.model)) {
      const r = await post(x.url + path, body, headers);
      assert.equal(r.status, 400, what);
      const error = (r.body as { error: unknown }).error;
      assert.equal(typeof error, "string", `${what}: Ollama's error is a string`);
      assert.match(error as string, message, what);
    }
    assert.equal(x.fake.received.length, 0, "nothing malformed reaches the provider");
    const ok = await x.ollama.chat({ model: x.model, messages: user, stream: false });
    assert.equal(ok.done, true);
  });
}

test("malformed OpenAI requests for an anthropic-hosted model: 400 in OpenAI's error shape", async (t) => {
  const x = await startExternal(t, "anthropic");
  const headers = { authorization: `Bearer ${x.userToken}` };
  const m = x.model;
  const cases: [string, unknown, RegExp][] = [
    ["broken JSON", `{"model": "${m}", "messages": [`, /^invalid JSON|request body ended/],
    ["no messages", { model: m }, /messages must be a list/],
    [
      "audio parts",
      { model: m, messages: [{ role: "user", content: [{ type: "input_audio", input_audio: {} }] }] },
      /parts of type "input_audio" cannot be sent/,
    ],
    [
      "a tool result without its id",
      { model: m, messages: [...user, { role: "tool", content: "x" }] },
      /tool_call_id is required/,
    ],
    [
      "arguments that are not JSON",
      {
        model: m,
        messages: [
          ...user,
          {
            role: "assistant",
            tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{no" } }],
          },
        ],
      },
      /arguments is not valid JSON/,
    ],
    [
      "a JSON format together with tools",
      {
        model: m,
        messages: user,
        response_format: { type: "json_object" },
        tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
      },
      /together with tools is not supported/,
    ],
    [
      "an image URL that is neither data: nor http",
      {
        model: m,
        messages: [
          { role: "user", content: [{ type: "image_url", image_url: { url: "file:///etc/passwd" } }] },
        ],
      },
      /data: URL with base64 or an http\(s\) URL/,
    ],
    ["/v1/completions", { model: m, prompt: "x" }, /\/v1\/completions is not available/],
  ];
  for (const [what, body, message] of cases) {
    const path = what === "/v1/completions" ? "/v1/completions" : "/v1/chat/completions";
    const r = await post(x.url + path, body, headers);
    assert.equal(r.status, 400, what);
    const error = (r.body as { error: { message: string; type: string; code: string } }).error;
    assert.equal(error.type, "invalid_request_error", what);
    assert.equal(error.code, "bad_request", what);
    assert.match(error.message, message, what);
  }
  assert.equal(x.fake.received.length, 0);
  const ok = await x.openai.chat.completions.create({
    model: x.model,
    messages: [{ role: "user", content: "hi" }],
  });
  assert.equal(ok.choices[0]!.message.content, x.fake.answers[0]!.text);
});

test("malformed OpenAI requests for an openai-hosted model: 400 before anything is passed through", async (t) => {
  const x = await startExternal(t, "openai");
  const headers = { authorization: `Bearer ${x.userToken}` };
  const cases: [string, string, RegExp][] = [
    ["/v1/chat/completions", `{"model": "${x.model}", "messages": [}`, /^invalid JSON: /],
    ["/v1/embeddings", `{"model": "${x.model}", "input": "a"} {}`, /^invalid JSON: /],
  ];
  for (const [path, body, message] of cases) {
    const r = await post(x.url + path, body, headers);
    assert.equal(r.status, 400, path);
    const error = (r.body as { error: { message: string; code: string } }).error;
    assert.equal(error.code, "bad_request");
    assert.match(error.message, message);
  }
  assert.equal(x.fake.received.length, 0);
  const ok = await x.openai.chat.completions.create({
    model: x.model,
    messages: [{ role: "user", content: "hi" }],
  });
  assert.equal(ok.choices[0]!.message.content, x.fake.answers[0]!.text);
});

/** Sends `big` chunked (no length, so only counting can find its size) and reads the answer. */
function uploadChunked(url: string, token: string, big: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    // The proxy answers before the upload is over and closes: the rest of the write may fail.
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE" && err.code !== "ECONNRESET") reject(err);
    });
    for (let i = 0; i < big.length; i += 64 * 1024) req.write(big.subarray(i, i + 64 * 1024));
    req.end();
  });
}

test("an external model's chunked body is counted once: 1.5 MB under a 2 MB limit goes through, 2.5 MB gets 413", async (t) => {
  // The peek stage reads the first 1 MB, puts it back, and the external forwarder reads the
  // whole body from the stream: those first bytes must not be counted twice.
  const x = await startExternal(t, "openai", { extra: { limits: { max_body_mb: 2 } } });
  const bodyOf = (bytes: number) =>
    Buffer.from(JSON.stringify({ model: x.model, messages: [{ role: "user", content: "x".repeat(bytes) }] }));

  const under = await uploadChunked(`${x.url}/api/chat`, x.userToken, bodyOf(1_500_000));
  assert.equal(under.status, 200, under.body);
  assert.equal(x.fake.received.length, 1);
  assert.equal(
    (x.fake.received[0]!.body as { messages: { content: string }[] }).messages[0]!.content.length,
    1_500_000,
  );

  const over = await uploadChunked(`${x.url}/api/chat`, x.userToken, bodyOf(2_500_000));
  assert.equal(over.status, 413);
  assert.match((JSON.parse(over.body) as { error: string }).error, /larger than 2 MB/);
  assert.equal(x.fake.received.length, 1, "the provider never got the body over the limit");
});
