import assert from "node:assert/strict";
import { test } from "node:test";
import { newContext, type RequestContext } from "../lib/context.js";
import { MAX_BODY, MAX_STREAM_LINE, UsageTap } from "../lib/observe/usage-tap.js";

// The tap must read the same counts however the response bytes are cut into chunks.

const FINAL = {
  model: "llama3:latest",
  created_at: "2026-01-01T00:00:00Z",
  response: "",
  done: true,
  done_reason: "stop",
  context: [1, 2, 3],
  total_duration: 1_500_000_000,
  load_duration: 100_000_000,
  prompt_eval_count: 26,
  prompt_eval_duration: 200_000_000,
  eval_count: 298,
  eval_duration: 4_000_000_000,
};

const ndjson = (...objs: unknown[]) => objs.map((o) => `${JSON.stringify(o)}\n`).join("");
const sse = (...objs: unknown[]) =>
  `${objs.map((o) => `data: ${JSON.stringify(o)}\n\n`).join("")}data: [DONE]\n\n`;

function ctxFor(path: string): RequestContext {
  return newContext("r1", "POST", path, path.startsWith("/v1/") ? "openai" : "ollama", "127.0.0.1");
}

/** Feeds `bytes` cut at the given offsets and returns what the tap wrote into the context. */
function run(path: string, bytes: Buffer, cuts: number[]): RequestContext {
  const ctx = ctxFor(path);
  const tap = new UsageTap(ctx);
  let from = 0;
  for (const c of [...cuts, bytes.length]) {
    if (c > from) tap.chunk(bytes.subarray(from, c));
    from = Math.max(from, c);
  }
  tap.end(null);
  return ctx;
}

/** Every way to cut the bytes in two, and every way to cut `[lo, hi)` in three. */
function* splits(length: number, lo: number, hi: number): Generator<number[]> {
  for (let i = 0; i <= length; i++) yield [i];
  for (let i = lo; i < hi; i++) for (let j = i + 1; j <= hi; j++) yield [i, j];
}

const expectOllama = (ctx: RequestContext, label: string) =>
  assert.deepEqual(
    ctx.usage,
    {
      promptTokens: 26,
      completionTokens: 298,
      evalDurationNs: 4_000_000_000,
      loadDurationNs: 100_000_000,
      totalDurationNs: 1_500_000_000,
      doneReason: "stop",
    },
    label,
  );

test("a streamed generate: the final chunk is read at every split", () => {
  const head = ndjson(
    { model: "llama3:latest", response: "He", done: false },
    { model: "llama3:latest", response: 'said "done":true and "error": no', done: false },
  );
  const bytes = Buffer.from(head + ndjson(FINAL));
  for (const cuts of splits(bytes.length, head.length - 5, bytes.length)) {
    const ctx = run("/api/generate", bytes, cuts);
    expectOllama(ctx, `cuts ${cuts}`);
    assert.equal(ctx.errorCode, null, `cuts ${cuts}`);
  }
});

test("a streamed chat and a final line without a trailing newline", () => {
  const final = { ...FINAL, message: { role: "assistant", content: "" } };
  const bytes = Buffer.from(
    ndjson({ model: "m", message: { role: "assistant", content: "hi" }, done: false }) +
      JSON.stringify(final),
  );
  for (const cuts of splits(bytes.length, 0, 0)) expectOllama(run("/api/chat", bytes, cuts), `cuts ${cuts}`);
});

test("a non-streamed body, with and without a trailing newline", () => {
  for (const text of [JSON.stringify(FINAL), `${JSON.stringify(FINAL)}\n`]) {
    const bytes = Buffer.from(text);
    for (const cuts of splits(bytes.length, 0, bytes.length)) {
      expectOllama(run("/api/generate", bytes, cuts), `cuts ${cuts}`);
    }
  }
});

test("Ollama omits zero counters: a final chunk without prompt_eval_count counts 0 prompt tokens", () => {
  const { prompt_eval_count: _, ...rest } = FINAL;
  const ctx = run("/api/generate", Buffer.from(ndjson(rest)), []);
  assert.equal(ctx.usage?.promptTokens, 0);
  assert.equal(ctx.usage?.completionTokens, 298);
});

test("/api/embed reports prompt_eval_count; /v1/embeddings reports usage.prompt_tokens", () => {
  const embed = Buffer.from(
    JSON.stringify({
      model: "nomic-embed-text:latest",
      embeddings: [[0.1, 0.2]],
      total_duration: 14_143_917,
      load_duration: 1_019_500,
      prompt_eval_count: 8,
    }),
  );
  for (const cuts of splits(embed.length, 0, 0)) {
    const ctx = run("/api/embed", embed, cuts);
    assert.equal(ctx.usage?.promptTokens, 8, `cuts ${cuts}`);
    assert.equal(ctx.usage?.completionTokens, null);
    assert.equal(ctx.usage?.totalDurationNs, 14_143_917);
  }
  const v1 = Buffer.from(
    JSON.stringify({
      object: "list",
      data: [{ object: "embedding", embedding: [0.1], index: 0 }],
      model: "m",
      usage: { prompt_tokens: 5, total_tokens: 5 },
    }),
  );
  for (const cuts of splits(v1.length, 0, 0)) {
    assert.equal(run("/v1/embeddings", v1, cuts).usage?.promptTokens, 5, `cuts ${cuts}`);
  }
});

test("OpenAI SSE: the usage chunk and the finish reason are read at every split", () => {
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    id: "c",
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const head = sse(chunk({ role: "assistant", content: "w0" }, null)).replace("data: [DONE]\n\n", "");
  const bytes = Buffer.from(
    head +
      sse(chunk({}, "length"), {
        id: "c",
        object: "chat.completion.chunk",
        choices: [],
        usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 },
      }),
  );
  for (const cuts of splits(bytes.length, head.length, bytes.length)) {
    const ctx = run("/v1/chat/completions", bytes, cuts);
    assert.equal(ctx.usage?.promptTokens, 11, `cuts ${cuts}`);
    assert.equal(ctx.usage?.completionTokens, 3, `cuts ${cuts}`);
    assert.equal(ctx.usage?.doneReason, "length", `cuts ${cuts}`);
    assert.equal(ctx.usage?.evalDurationNs, null);
  }
});

test("OpenAI non-streamed body", () => {
  const bytes = Buffer.from(
    JSON.stringify({
      id: "chatcmpl-1",
      object: "chat.completion",
      choices: [{ index: 0, message: { role: "assistant", content: "x" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
    }),
  );
  for (const cuts of splits(bytes.length, 0, 0)) {
    const u = run("/v1/chat/completions", bytes, cuts).usage;
    assert.deepEqual([u?.promptTokens, u?.completionTokens, u?.doneReason], [7, 3, "stop"], `cuts ${cuts}`);
  }
});

test("an in-band error line (NDJSON and SSE) and an error body are read into errorCode/errorMessage", () => {
  const nd = Buffer.from(ndjson({ response: "a", done: false }, { error: "model ran out of memory" }));
  for (const cuts of splits(nd.length, 0, 0)) {
    const ctx = run("/api/generate", nd, cuts);
    assert.equal(ctx.errorCode, "upstream_error");
    assert.equal(ctx.errorMessage, "model ran out of memory");
    assert.equal(ctx.usage, null);
  }
  const ev = Buffer.from(sse({ error: { message: "boom", type: "server_error" } }));
  assert.equal(run("/v1/chat/completions", ev, [9]).errorMessage, "boom");
  const body = Buffer.from(JSON.stringify({ error: 'model "nope" not found, try pulling it first' }));
  assert.match(run("/api/generate", body, [3]).errorMessage ?? "", /not found/);
});

test("an error the forwarder already recorded is not overwritten", () => {
  const ctx = ctxFor("/api/generate");
  ctx.errorCode = "upstream_stream_error";
  ctx.errorMessage = "cut";
  const tap = new UsageTap(ctx);
  tap.chunk(Buffer.from(ndjson({ error: "later" })));
  tap.end("cut");
  assert.equal(ctx.errorCode, "upstream_stream_error");
  assert.equal(ctx.errorMessage, "cut");
});

test("content that merely looks like counters inside a string is not read", () => {
  const tricky = { response: '"eval_count":999,"done":true,"usage":{"prompt_tokens":5}', done: false };
  const ctx = run("/api/generate", Buffer.from(ndjson(tricky, tricky)), []);
  assert.equal(ctx.usage, null);
});

test("a final chunk with a huge context is still read (from its tail), and the tap holds bounded bytes", () => {
  const huge = { ...FINAL, context: Array.from({ length: 300_000 }, (_, i) => i) };
  const bytes = Buffer.from(ndjson({ response: "a", done: false }, huge));
  assert.ok(bytes.length > 1_000_000);
  const ctx = ctxFor("/api/generate");
  const tap = new UsageTap(ctx);
  let most = 0;
  for (let i = 0; i < bytes.length; i += 16 * 1024) {
    tap.chunk(bytes.subarray(i, i + 16 * 1024));
    most = Math.max(most, tap.bytesHeld());
  }
  tap.end(null);
  assert.ok(most <= MAX_STREAM_LINE, `held ${most} bytes`);
  assert.equal(ctx.usage?.promptTokens, 26);
  assert.equal(ctx.usage?.completionTokens, 298);
  assert.equal(ctx.usage?.evalDurationNs, 4_000_000_000);
});

test("a big non-streamed embeddings body: bounded memory, counters read from the tail", () => {
  const body = Buffer.from(
    JSON.stringify({
      model: "m",
      embeddings: Array.from({ length: 200 }, () => Array.from({ length: 768 }, () => 0.123456789)),
      total_duration: 5,
      load_duration: 1,
      prompt_eval_count: 1234,
    }),
  );
  assert.ok(body.length > MAX_BODY);
  const ctx = ctxFor("/api/embed");
  const tap = new UsageTap(ctx);
  let most = 0;
  for (let i = 0; i < body.length; i += 65_536) {
    tap.chunk(body.subarray(i, i + 65_536));
    most = Math.max(most, tap.bytesHeld());
  }
  tap.end(null);
  assert.ok(most <= MAX_BODY, `held ${most} bytes`);
  assert.equal(ctx.usage?.promptTokens, 1234);
});

test("one byte at a time, and garbage, do not throw", () => {
  const bytes = Buffer.from(`not json\n{"broken": \n${ndjson(FINAL)}\u00ff\u0000`);
  const ctx = ctxFor("/api/generate");
  const tap = new UsageTap(ctx);
  for (let i = 0; i < bytes.length; i++) tap.chunk(bytes.subarray(i, i + 1));
  tap.end(null);
  expectOllama(ctx, "byte by byte");
});
