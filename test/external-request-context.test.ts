import assert from "node:assert/strict";
import { test } from "node:test";
import { type ProviderKind, startExternal } from "./external-helpers.js";
import { waitFor } from "./helpers.js";

// What the request log sees of an external request (the context handed to telemetry.done):
// the host as its server, the provider's token counts, bytes both ways, and timings in order —
// like any Ollama request.

const requests = [
  { path: "/api/chat", stream: true, body: { messages: [{ role: "user", content: "count me" }] } },
  { path: "/api/generate", stream: false, body: { prompt: "count me", stream: false } },
  {
    path: "/v1/chat/completions",
    stream: true,
    body: { messages: [{ role: "user", content: "count me" }], stream: true },
  },
  {
    path: "/v1/chat/completions",
    stream: false,
    body: { messages: [{ role: "user", content: "count me" }] },
  },
];

for (const kind of ["openai", "anthropic"] as ProviderKind[]) {
  for (const r of requests) {
    test(`request context for ${r.path} (stream: ${r.stream}) → ${kind} host`, async (t) => {
      const x = await startExternal(t, kind);
      const text = JSON.stringify({ model: x.model, ...r.body });
      const res = await fetch(x.url + r.path, {
        method: "POST",
        headers: { authorization: `Bearer ${x.userToken}`, "x-request-id": "req-ext-1" },
        body: text,
      });
      const answer = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-ollama-proxy-server"), kind);
      assert.equal(res.headers.get("x-request-id"), "req-ext-1");
      assert.match(
        res.headers.get("content-type")!,
        r.stream ? (r.path.startsWith("/v1") ? /event-stream/ : /ndjson/) : /json/,
      );

      await waitFor("the request to be recorded", () => x.done.length === 1);
      const ctx = x.done[0]!;
      const provider = x.fake.answers[0]!;
      assert.equal(ctx.id, "req-ext-1");
      assert.equal(ctx.user?.name, "alice");
      assert.equal(ctx.model, x.model);
      assert.equal(ctx.server, kind);
      assert.equal(ctx.attempts, 1);
      assert.equal(ctx.status, 200);
      assert.equal(ctx.errorCode, null);
      assert.equal(ctx.clientAborted, false);
      assert.equal(ctx.bytesIn, Buffer.byteLength(text));
      assert.equal(ctx.bytesOut, answer.length);
      assert.equal(ctx.usage?.promptTokens, provider.promptTokens);
      assert.equal(ctx.usage?.completionTokens, provider.completionTokens);
      const times = [ctx.t0, ctx.tSent, ctx.tHeaders, ctx.tFirstChunk, ctx.tEnd];
      assert.ok(
        times.every((v) => typeof v === "number"),
        "every timing is set",
      );
      for (let i = 1; i < times.length; i++) assert.ok(times[i]! >= times[i - 1]!, `timing ${i} is in order`);
      const translated = !(kind === "openai" && r.path.startsWith("/v1"));
      if (!translated && r.stream) {
        // A passed-through stream gets its eval time measured at the proxy (for tokens/s).
        assert.ok((ctx.usage?.evalDurationNs ?? 0) > 0);
      }
      if (translated) {
        // Translated answers carry durations measured at the proxy and Ollama's done_reason.
        assert.equal(ctx.usage?.doneReason, "stop");
        assert.ok((ctx.usage?.totalDurationNs ?? 0) > 0);
      }
    });
  }
}
