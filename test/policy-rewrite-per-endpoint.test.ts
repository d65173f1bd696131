import assert from "node:assert/strict";
import { test } from "node:test";
import type { PolicyOptions } from "../lib/config/types.js";
import { rewriteBody, rewritesOn } from "../lib/policy/rewrite.js";

// A policy's `options` rewrite a parsed body only where Ollama reads the field on that
// endpoint: num_ctx and keep_alive on the native API, the generation cap everywhere it exists
// (options.num_predict, /v1's max_tokens and max_output_tokens). Everything else is untouched.

const ALL: PolicyOptions = { numCtxMax: 8192, numPredictMax: 512, keepAlive: "5m" };

function rewritten(
  path: string,
  body: Record<string, unknown>,
  rules = ALL,
): { changed: boolean; body: unknown } {
  const copy = structuredClone(body);
  const changed = rewriteBody(rules, path, copy);
  return { changed, body: copy };
}

test("/api/generate and /api/chat: num_ctx clamped, num_predict capped, keep_alive forced", () => {
  for (const path of ["/api/generate", "/api/chat"]) {
    assert.deepEqual(
      rewritten(path, {
        model: "llama3",
        options: { num_ctx: 131072, num_predict: 4096, temperature: 0.2 },
        keep_alive: -1,
      }),
      {
        changed: true,
        body: {
          model: "llama3",
          options: { num_ctx: 8192, num_predict: 512, temperature: 0.2 },
          keep_alive: "5m",
        },
      },
      path,
    );
    // Within the limits, with keep_alive already the policy's: nothing to do.
    assert.deepEqual(
      rewritten(path, { model: "llama3", options: { num_ctx: 2048, num_predict: 100 }, keep_alive: "5m" }),
      {
        changed: false,
        body: { model: "llama3", options: { num_ctx: 2048, num_predict: 100 }, keep_alive: "5m" },
      },
    );
    // No num_ctx: the model's default stays (forcing one would reload models). No num_predict,
    // or a negative one (Ollama: no end): the cap is written.
    assert.deepEqual(rewritten(path, { model: "llama3", prompt: "hi" }), {
      changed: true,
      body: { model: "llama3", prompt: "hi", options: { num_predict: 512 }, keep_alive: "5m" },
    });
    for (const v of [-1, -2, null]) {
      assert.deepEqual(
        rewritten(path, { model: "llama3", options: { num_predict: v } }, { ...ALL, keepAlive: null }),
        { changed: true, body: { model: "llama3", options: { num_predict: 512 } } },
        String(v),
      );
    }
  }
});

test("/api/embed and /api/embeddings: num_ctx and keep_alive; nothing is generated, so no cap", () => {
  for (const path of ["/api/embed", "/api/embeddings"]) {
    assert.deepEqual(
      rewritten(path, { model: "nomic-embed-text", input: "x", options: { num_ctx: 100000 }, keep_alive: 0 }),
      {
        changed: true,
        body: { model: "nomic-embed-text", input: "x", options: { num_ctx: 8192 }, keep_alive: "5m" },
      },
    );
    assert.deepEqual(
      rewritten(path, { model: "nomic-embed-text", input: "x" }, { ...ALL, keepAlive: null }),
      {
        changed: false,
        body: { model: "nomic-embed-text", input: "x" },
      },
    );
  }
});

test("/v1 chat and completions: max_tokens capped (or written); options and keep_alive are not Ollama's there", () => {
  for (const path of ["/v1/chat/completions", "/v1/completions"]) {
    assert.deepEqual(rewritten(path, { model: "llama3", max_tokens: 100000 }), {
      changed: true,
      body: { model: "llama3", max_tokens: 512 },
    });
    assert.deepEqual(rewritten(path, { model: "llama3", messages: [] }), {
      changed: true,
      body: { model: "llama3", messages: [], max_tokens: 512 },
    });
    assert.deepEqual(rewritten(path, { model: "llama3", max_tokens: 64 }), {
      changed: false,
      body: { model: "llama3", max_tokens: 64 },
    });
    // Ollama's /v1 ignores these: rewriting them would change nothing it does.
    assert.deepEqual(
      rewritten(path, { model: "llama3", max_tokens: 64, options: { num_ctx: 99999 }, keep_alive: -1 }),
      {
        changed: false,
        body: { model: "llama3", max_tokens: 64, options: { num_ctx: 99999 }, keep_alive: -1 },
      },
    );
  }
});

test("/v1/responses caps max_output_tokens; /v1/messages caps max_tokens but never invents it", () => {
  assert.deepEqual(rewritten("/v1/responses", { model: "llama3", input: "hi" }), {
    changed: true,
    body: { model: "llama3", input: "hi", max_output_tokens: 512 },
  });
  assert.deepEqual(rewritten("/v1/responses", { model: "llama3", max_output_tokens: 9000 }), {
    changed: true,
    body: { model: "llama3", max_output_tokens: 512 },
  });
  assert.deepEqual(rewritten("/v1/messages", { model: "llama3", max_tokens: 4096 }), {
    changed: true,
    body: { model: "llama3", max_tokens: 512 },
  });
  // Anthropic's max_tokens is required: without it, Ollama's 400 is the right answer.
  assert.deepEqual(rewritten("/v1/messages", { model: "llama3", messages: [] }), {
    changed: false,
    body: { model: "llama3", messages: [] },
  });
});

test("other endpoints, /v1/embeddings and non-object bodies are never touched", () => {
  for (const path of ["/v1/embeddings", "/api/show", "/api/pull", "/api/tags", "/api/generate/"]) {
    const body = { model: "llama3", options: { num_ctx: 99999 }, keep_alive: -1, max_tokens: 99999 };
    assert.deepEqual(rewritten(path, body), { changed: false, body }, path);
  }
  for (const body of [null, [], "text", 42]) assert.equal(rewriteBody(ALL, "/api/generate", body), false);
});

test("a value of the wrong type is left for Ollama to refuse (400)", () => {
  const body = { model: "llama3", options: "num_ctx=999999", keep_alive: -1 };
  assert.deepEqual(rewritten("/api/generate", body), { changed: false, body });
  assert.deepEqual(rewritten("/v1/chat/completions", { model: "llama3", max_tokens: "99999" }), {
    changed: false,
    body: { model: "llama3", max_tokens: "99999" },
  });
});

test("only the rules a policy sets apply; rewritesOn says which paths need a parsed body", () => {
  const keepAliveOnly: PolicyOptions = { numCtxMax: null, numPredictMax: null, keepAlive: 300 };
  assert.deepEqual(
    rewritten("/api/chat", { model: "m", options: { num_ctx: 1e6, num_predict: -1 } }, keepAliveOnly),
    {
      changed: true,
      body: { model: "m", options: { num_ctx: 1e6, num_predict: -1 }, keep_alive: 300 },
    },
  );
  assert.equal(rewritesOn(keepAliveOnly, "/api/chat"), true);
  assert.equal(
    rewritesOn(keepAliveOnly, "/v1/chat/completions"),
    false,
    "keep_alive cannot be forced on /v1",
  );
  const numCtxOnly: PolicyOptions = { numCtxMax: 4096, numPredictMax: null, keepAlive: null };
  assert.equal(rewritesOn(numCtxOnly, "/api/embed"), true);
  assert.equal(rewritesOn(numCtxOnly, "/v1/responses"), false);
  assert.equal(rewritesOn(ALL, "/v1/responses"), true);
  assert.equal(rewritesOn(ALL, "/v1/embeddings"), false);
  assert.equal(rewritesOn(ALL, "/api/show"), false);
});
