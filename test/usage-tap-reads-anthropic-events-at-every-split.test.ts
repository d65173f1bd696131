import assert from "node:assert/strict";
import { test } from "node:test";
import { newContext, type RequestContext } from "../lib/context.js";
import { UsageTap } from "../lib/observe/usage-tap.js";

// An Anthropic answer (Ollama's /v1/messages, or an Anthropic host's) tells its token counts
// in parts: the input tokens in message_start, the output tokens and the stop reason in
// message_delta (Ollama's message_delta repeats the final input count). The tap must read the
// same counts however the bytes are cut, and from a whole message body too.

const ev = (type: string, data: Record<string, unknown>) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

const STREAM =
  ev("message_start", {
    message: {
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: "qwen3",
      content: [],
      usage: { input_tokens: 12, output_tokens: 0 },
    },
  }) +
  ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }) +
  // Text that looks like the markers must not count: inside a string every quote is escaped.
  ev("content_block_delta", {
    index: 0,
    delta: { type: "text_delta", text: '{"usage": {"output_tokens": 999}, "error": "x"}' },
  }) +
  ev("content_block_stop", { index: 0 }) +
  ev("message_delta", { delta: { stop_reason: "max_tokens" }, usage: { output_tokens: 41 } }) +
  ev("message_stop", {});

function run(bytes: Buffer, cuts: number[]): RequestContext {
  const ctx = newContext("r1", "POST", "/v1/messages", "anthropic", "127.0.0.1");
  const tap = new UsageTap(ctx);
  let from = 0;
  for (const c of [...cuts, bytes.length]) {
    if (c > from) tap.chunk(bytes.subarray(from, c));
    from = Math.max(from, c);
  }
  tap.end(null);
  return ctx;
}

const EXPECTED = {
  promptTokens: 12,
  completionTokens: 41,
  evalDurationNs: null,
  loadDurationNs: null,
  totalDurationNs: null,
  doneReason: "max_tokens",
};

test("input tokens from message_start, output tokens from message_delta, at every split", () => {
  const bytes = Buffer.from(STREAM);
  for (let i = 0; i <= bytes.length; i++) {
    const ctx = run(bytes, [i]);
    assert.deepEqual(ctx.usage, EXPECTED, `cut at ${i}`);
    assert.equal(ctx.errorCode, null, `cut at ${i}`);
  }
});

test("Anthropic's prompt counts cached tokens apart; a later input count wins", () => {
  const cached =
    ev("message_start", {
      message: {
        usage: {
          input_tokens: 5,
          cache_creation_input_tokens: 100,
          cache_read_input_tokens: 2000,
          output_tokens: 1,
        },
      },
    }) +
    ev("message_delta", {
      delta: { stop_reason: "end_turn" },
      usage: { input_tokens: null, output_tokens: 9 },
    });
  assert.deepEqual(run(Buffer.from(cached), []).usage, {
    ...EXPECTED,
    promptTokens: 2105,
    completionTokens: 9,
    doneReason: "end_turn",
  });
  const ollama =
    ev("message_start", { message: { usage: { input_tokens: 3, output_tokens: 0 } } }) +
    ev("message_delta", {
      delta: { stop_reason: "end_turn" },
      usage: { input_tokens: 17, output_tokens: 4 },
    });
  assert.deepEqual(run(Buffer.from(ollama), []).usage, {
    ...EXPECTED,
    promptTokens: 17,
    completionTokens: 4,
    doneReason: "end_turn",
  });
});

test("a whole message body, and an error event", () => {
  const body = JSON.stringify({
    id: "msg_1",
    type: "message",
    role: "assistant",
    content: [{ type: "text", text: "hi" }],
    stop_reason: "end_turn",
    usage: { input_tokens: 8, output_tokens: 2 },
  });
  assert.deepEqual(run(Buffer.from(body), [7]).usage, {
    ...EXPECTED,
    promptTokens: 8,
    completionTokens: 2,
    doneReason: "end_turn",
  });
  const failed = run(
    Buffer.from(ev("error", { error: { type: "overloaded_error", message: "Overloaded" } })),
    [],
  );
  assert.equal(failed.errorCode, "upstream_error");
  assert.equal(failed.errorMessage, "Overloaded");
});
