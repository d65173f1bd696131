import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { section, tempDir, writeConfig } from "./helpers.js";

// 1,000 hostile bodies at the peek — random bytes, truncated JSON, huge strings, deep nesting,
// invalid UTF-8 — each get a 4xx with an error body; the proxy stays up and its memory flat.

function* bodies(): Generator<Buffer> {
  const valid = Buffer.from(
    JSON.stringify({ model: "llama3", prompt: "hello", options: { temperature: 0.2 } }),
  );
  for (let i = 0; i < 1000; i++) {
    switch (i % 8) {
      case 0:
        yield randomBytes(1 + (i % 300));
        break;
      case 1:
        yield valid.subarray(0, 1 + (i % (valid.length - 1))); // truncated
        break;
      case 2:
        yield Buffer.from(`{"model":"${"m".repeat(600 + i)}"}`); // overlong model
        break;
      case 3:
        yield Buffer.from(`{"prompt":"${"p".repeat(100_000)}"`); // huge string, never closed
        break;
      case 4:
        yield Buffer.from(`{"messages":${"[".repeat(50_000)}`); // deep nesting, no end
        break;
      case 5:
        yield Buffer.concat([
          Buffer.from('{"model":"ll'),
          Buffer.from([0xc3, 0x28, 0xff]),
          Buffer.from('ama"}'),
        ]); // invalid UTF-8
        break;
      case 6:
        yield Buffer.from(`{"model": ${["1", "null", "true", "[]", "{}"][i % 5]}}`); // model not a string
        break;
      default:
        yield Buffer.from(`{"model":"llama3","x":${"{".repeat(2000)}`); // model first, then junk: Ollama judges it
    }
  }
}

test("1,000 hostile bodies each get a 4xx, and the proxy stays up with flat memory", async (t) => {
  const backend = await startFakeOllama({ name: "gpu" });
  t.after(() => backend.close());
  // The proxy runs as its own process so that its memory is measured apart from the client's.
  const dir = tempDir(t);
  const { file, config } = writeConfig(dir, section([backend]));
  const store = openStore(config.database);
  const auth = { authorization: `Bearer ${store.users.create("alice").token}` };
  store.close();
  const proxy = await spawnProxy(t, file);
  const rss = () =>
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proxy.child.pid}/status`, "utf8"))?.[1]) / 1024;
  const statuses = new Map<number, number>();
  const all = [...bodies()];
  const one = async (body: Buffer) => {
    const res = await fetch(`${proxy.url}/api/generate`, { method: "POST", headers: auth, body });
    const text = await res.text();
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    assert.ok(
      res.status >= 400 && res.status < 500,
      `${res.status} for ${body.subarray(0, 40).toString("hex")}: ${text}`,
    );
    const parsed = JSON.parse(text) as { error?: unknown };
    assert.equal(typeof parsed.error, "string");
  };
  // Memory is compared between the two halves: the first half warms up heaps and buffers,
  // the second must not keep growing (a leak would grow with every request).
  const half = all.length / 2;
  const run = async (from: number, to: number) => {
    for (let i = from; i < to; i += 25) await Promise.all(all.slice(i, Math.min(i + 25, to)).map(one));
  };
  await run(0, half);
  const rssMid = rss();
  await run(half, all.length);
  const growthMb = rss() - rssMid;
  t.diagnostic(
    `proxy RSS ${rssMid.toFixed(1)} MB after 500 requests, +${growthMb.toFixed(1)} MB after 1,000`,
  );
  assert.ok(growthMb < 25, `RSS grew by ${growthMb.toFixed(1)} MB over the second 500 requests`);
  assert.equal(
    [...statuses.values()].reduce((a, b) => a + b, 0),
    1000,
  );
  assert.ok((statuses.get(400) ?? 0) >= 850, `mostly refused at the peek: ${JSON.stringify([...statuses])}`);
  const health = (await (await fetch(`${proxy.url}/health`)).json()) as { servers: { in_flight: number }[] };
  assert.equal(health.servers[0]?.in_flight, 0);
  assert.equal(await proxy.stop(), 0);
});
