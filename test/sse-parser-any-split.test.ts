import assert from "node:assert/strict";
import { test } from "node:test";
import { type SseEvent, SseParser } from "../lib/forward/external/sse.js";

// Providers' SSE arrives in TCP chunks cut anywhere. Whatever the cut, the parser must see
// the same events: same names, same data, same raw text.

const STREAM =
  "event: message_start\n" +
  'data: {"type":"message_start","text":"héllo 🌍"}\n' +
  "\n" +
  ": keep-alive comment\n" +
  "\n" +
  "data: first line\r\n" +
  "data:second line without space\r\n" +
  "\r\n" +
  "event: ping\r" +
  "data: {}\r" +
  "\r" +
  "id: 42\n" +
  "retry: 1000\n" +
  "data: ünïcödé ✓\n" +
  "\n" +
  "data: [DONE]\n" +
  "\n" +
  "data: never finished";

function parse(chunks: Uint8Array[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...p.push(c));
  out.push(...p.end());
  return out;
}

const bytes = Buffer.from(STREAM, "utf8");
const whole = parse([bytes]);

test("the parser reads events, comments, CRLF and CR line ends, multi-line data", () => {
  assert.deepEqual(
    whole.map((e) => [e.event, e.data]),
    [
      ["message_start", '{"type":"message_start","text":"héllo 🌍"}'],
      [null, ""],
      [null, "first line\nsecond line without space"],
      ["ping", "{}"],
      [null, "ünïcödé ✓"],
      [null, "[DONE]"],
    ],
  );
  // An event without its closing blank line is dropped; the raw text of the others is what came.
  assert.equal(whole.map((e) => e.raw).join(""), STREAM.slice(0, STREAM.lastIndexOf("data: never")));
});

test("every two-way cut gives the same events", () => {
  for (let i = 1; i < bytes.length; i++) {
    const got = parse([bytes.subarray(0, i), bytes.subarray(i)]);
    assert.deepEqual(got, whole, `cut at byte ${i}`);
  }
});

test("byte-by-byte delivery gives the same events", () => {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
  assert.deepEqual(parse(chunks), whole);
});
