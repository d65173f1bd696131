import assert from "node:assert/strict";
import { test } from "node:test";
import { ModelScanner } from "../lib/stages/model-scanner.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// A body the proxy cannot route is refused at the door with a 400 that says what is wrong,
// in the client's dialect, and nothing reaches a backend.

const bytes = (...b: number[]) => Buffer.from(b);
const json = (s: string) => Buffer.from(s, "utf8");
const longName = "m".repeat(513);

const CASES: { what: string; body: Buffer; error: string }[] = [
  { what: "an empty body", body: json(""), error: "missing request body" },
  { what: "no model key", body: json('{"prompt":"hi","stream":false}'), error: "model is required" },
  { what: "an empty object", body: json("{}"), error: "model is required" },
  { what: "an empty model", body: json('{"model":""}'), error: "model is required" },
  { what: "a number model", body: json('{"model":42}'), error: 'invalid request: "model" must be a string' },
  { what: "a null model", body: json('{"model":null}'), error: 'invalid request: "model" must be a string' },
  {
    what: "an object model",
    body: json('{"model":{"name":"x"}}'),
    error: 'invalid request: "model" must be a string',
  },
  {
    what: "an array, not an object",
    body: json('["model","x"]'),
    error: "invalid JSON: the request body must be a JSON object",
  },
  {
    what: "plain text",
    body: json("model=x"),
    error: "invalid JSON: the request body must be a JSON object",
  },
  {
    what: "an unquoted key",
    body: json("{model:1}"),
    error: "invalid JSON: expected a key in double quotes",
  },
  {
    what: "a trailing comma",
    body: json('{"a":1,}'),
    error: "invalid JSON: expected a key in double quotes",
  },
  { what: "a missing colon", body: json('{"model" "x"}'), error: "invalid JSON: expected ':' after a key" },
  {
    what: "a missing comma",
    body: json('{"a":1 "model":"x"}'),
    error: "invalid JSON: expected ',' or '}' after a value",
  },
  {
    what: "a truncated body",
    body: json('{"prompt":"hi","model":"lla'),
    error: "invalid JSON: the request body ended before the object was complete",
  },
  {
    what: "a raw newline in a string",
    body: json('{"prompt":"a\nb","model":"x"}'),
    error: "invalid JSON: control character in a string",
  },
  {
    what: "a bad escape",
    body: json(String.raw`{"model":"a\x"}`),
    error: "invalid JSON: bad escape in a string",
  },
  {
    what: "a short \\u escape",
    body: json(String.raw`{"model":"\u12"}`),
    error: "invalid JSON: bad escape in a string",
  },
  {
    what: "a bad literal",
    body: json('{"stream":tr#e,"model":"x"}'),
    error: "invalid JSON: malformed number or literal",
  },
  {
    what: "a stray character for a value",
    body: json('{"a":@,"model":"x"}'),
    error: "invalid JSON: unexpected character where a value should be",
  },
  {
    what: "invalid UTF-8 in the model (a lone continuation byte)",
    body: Buffer.concat([json('{"model":"ll'), bytes(0x80), json('ama"}')]),
    error: "invalid JSON: a string is not valid UTF-8",
  },
  {
    what: "invalid UTF-8 in the model (an overlong encoding of '/')",
    body: Buffer.concat([json('{"model":"a'), bytes(0xc0, 0xaf), json('b"}')]),
    error: "invalid JSON: a string is not valid UTF-8",
  },
  {
    what: "invalid UTF-8 in a key (a truncated sequence)",
    body: Buffer.concat([json('{"mod'), bytes(0xe6, 0x97), json('":1,"model":"x"}')]),
    error: "invalid JSON: a string is not valid UTF-8",
  },
  {
    what: "an overlong model",
    body: json(JSON.stringify({ model: longName })),
    error: 'invalid request: "model" is longer than 512 bytes',
  },
];

test("the scanner gives each malformed body its own message", () => {
  for (const c of CASES) {
    const s = new ModelScanner(["model"]);
    s.push(c.body);
    assert.deepEqual(s.finish(), { error: c.error }, c.what);
  }
  // The longest name Ollama's grammar allows within 512 bytes: host, namespace, model.
  const longest = `${"h".repeat(350)}/${"n".repeat(80)}/${"m".repeat(80)}`;
  assert.equal(longest.length, 512);
  const s = new ModelScanner(["model"]);
  s.push(json(JSON.stringify({ model: longest })));
  assert.deepEqual(s.finish(), { model: longest }, "512 bytes is still accepted");
});

test("through the proxy: 400 with the message, in each dialect, nothing forwarded", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);

  for (const c of CASES) {
    const res = await fetch(`${proxy.url}/api/generate`, {
      method: "POST",
      headers: { ...proxy.auth, "content-type": "application/json" },
      body: c.body,
    });
    assert.equal(res.status, 400, c.what);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await res.json(), { error: c.error }, c.what);

    const v1 = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...proxy.auth, "content-type": "application/json" },
      body: c.body,
    });
    assert.equal(v1.status, 400, c.what);
    assert.deepEqual(
      await v1.json(),
      { error: { message: c.error, type: "invalid_request_error", code: "bad_request" } },
      c.what,
    );
  }
  assert.deepEqual(backend.work(), [], "no malformed request reached the backend");

  // Still serving, on fresh and on reused connections.
  const root = await fetch(`${proxy.url}/`);
  assert.equal(await root.text(), "Ollama is running");
  const ok = await fetch(`${proxy.url}/api/generate`, {
    method: "POST",
    headers: proxy.auth,
    body: JSON.stringify({ model: "llama3", prompt: "hi", stream: false }),
  });
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { response: string }).response, "w0 w1 w2 ");
});

test("a chunked body that stops mid-object is refused when it ends", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  // A ReadableStream body makes fetch send it chunked, with no Content-Length.
  const body = new ReadableStream({
    start(c) {
      c.enqueue(json('{"prompt":"a'));
      c.enqueue(json('bc","stre'));
      c.close();
    },
  });
  const res = await fetch(`${proxy.url}/api/chat`, {
    method: "POST",
    headers: proxy.auth,
    body,
    duplex: "half",
  } as RequestInit);
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), {
    error: "invalid JSON: the request body ended before the object was complete",
  });
});
