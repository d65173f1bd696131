import assert from "node:assert/strict";
import { once } from "node:events";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { replay } from "../lib/http/body.js";

// A body kept for failover is sent again from memory: piped (as http-proxy-3 does) or read as
// any stream, it gives every byte once, in order, and then ends.

const chunks = [Buffer.from('{"model":'), Buffer.from('"llama3",'), Buffer.from('"prompt":"x"}')];

async function collect(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const c of stream) text += c.toString();
  return text;
}

test("piped, a kept body writes every chunk and ends the destination at once", async () => {
  const dest = new PassThrough();
  const written: string[] = [];
  dest.on("data", (c: Buffer) => written.push(c.toString()));
  const ended = once(dest, "end");
  assert.equal(replay(chunks).pipe(dest), dest);
  await ended;
  assert.deepEqual(written, chunks.map(String));
});

test("read as a stream, a kept body gives the same bytes; once piped, a second reader finds it ended", async () => {
  assert.equal(await collect(replay(chunks)), chunks.join(""));
  const body = replay(chunks);
  const first = new PassThrough();
  body.pipe(first);
  assert.equal(await collect(first), chunks.join(""));
  const second = new PassThrough();
  body.pipe(second);
  assert.equal(await collect(second), "");
  // Kept open on request: the destination is written but not ended.
  const open = new PassThrough();
  replay(chunks).pipe(open, { end: false });
  assert.equal(open.read()?.toString(), chunks.join(""));
  assert.equal(open.writableEnded, false);
});
