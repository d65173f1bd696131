import assert from "node:assert/strict";
import { test } from "node:test";
import { allowsModel, compileModelRules, filterListing, filterNames } from "../lib/policy/models.js";

// `models` is a list of globs over normalised model names; "!" excludes; the last pattern
// that matches decides; a name no pattern matches is not allowed.

const allowed = (patterns: string[], model: string) => allowsModel(compileModelRules(patterns), model);

test("globs match normalised names: case, the :latest tag, any run of characters", () => {
  const batch = ["llama3*", "qwen*", "!*70b*"];
  for (const m of [
    "llama3",
    "llama3:latest",
    "LLAMA3",
    "llama3.1:8b",
    "llama3.2:1b-instruct-q4_K_M",
    "qwen2.5:7b",
  ])
    assert.equal(allowed(batch, m), true, m);
  for (const m of [
    "llama3.1:70b",
    "llama3.1:70b-instruct",
    "qwen2:70b",
    "mistral",
    "gemma3:27b",
    "codellama:7b",
  ])
    assert.equal(allowed(batch, m), false, m);

  assert.equal(allowed(["qwen*:7b"], "qwen2.5:7b"), true);
  assert.equal(allowed(["qwen*:7b"], "qwen2.5:14b"), false);
  assert.equal(allowed(["llama3.?:8b"], "llama3.1:8b"), true);
  assert.equal(allowed(["llama3.?:8b"], "llama3.10:8b"), false);
  // Dots and other regex characters are literal.
  assert.equal(allowed(["llama3.1*"], "llama3x1:8b"), false);
  // A namespaced model: "*" crosses "/".
  assert.equal(allowed(["hf.co/*"], "hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M"), true);
});

test("a pattern without * or ? names one model, normalised as Ollama does", () => {
  assert.equal(allowed(["llama3"], "llama3:latest"), true);
  assert.equal(allowed(["llama3:latest"], "llama3"), true);
  assert.equal(allowed(["Llama3"], "llama3"), true);
  assert.equal(allowed(["llama3"], "llama3:8b"), false);
  assert.equal(allowed(["llama3"], "llama3.1"), false);
});

test("the last match wins: an exclusion can be re-included, and the order matters", () => {
  assert.equal(allowed(["*", "!*70b*", "llama3.1:70b"], "llama3.1:70b"), true);
  assert.equal(allowed(["*", "!*70b*", "llama3.1:70b"], "qwen2:70b"), false);
  assert.equal(allowed(["!*70b*", "*"], "qwen2:70b"), true, "a later * re-includes everything");
  assert.equal(allowed(["*", "!llama3"], "llama3:latest"), false);
});

test("nothing matches, nothing is allowed: an empty list or exclusions alone allow no model", () => {
  assert.equal(allowed([], "llama3"), false);
  assert.equal(allowed(["!*70b*"], "llama3"), false);
  assert.equal(allowed(["mistral"], "llama3"), false);
});

test("listings keep only what the rules allow; an allow-all list returns the same body", () => {
  const rules = compileModelRules(["llama3*", "!*70b*"]);
  const tags = {
    models: [
      { name: "llama3:latest", model: "llama3:latest" },
      { name: "llama3.1:70b" },
      { model: "llama3.2:1b" },
      { name: "mistral:latest" },
    ],
  };
  assert.deepEqual(filterListing(rules, "tags", tags), {
    models: [{ name: "llama3:latest", model: "llama3:latest" }, { model: "llama3.2:1b" }],
  });
  assert.equal(tags.models.length, 4, "the input is not changed");
  const ps = {
    models: [
      { name: "llama3.1:70b", size_vram: 1 },
      { name: "llama3:latest", size_vram: 2 },
    ],
  };
  assert.deepEqual(filterListing(rules, "ps", ps), { models: [{ name: "llama3:latest", size_vram: 2 }] });
  const v1 = {
    object: "list",
    data: [
      { id: "llama3:latest", object: "model" },
      { id: "qwen2:7b", object: "model" },
    ],
  };
  assert.deepEqual(filterListing(rules, "models", v1), {
    object: "list",
    data: [{ id: "llama3:latest", object: "model" }],
  });
  assert.deepEqual(filterNames(rules, ["llama3:latest", "llama3.1:70b", "mistral:latest"]), [
    "llama3:latest",
  ]);

  const all = compileModelRules(["*"]);
  assert.equal(filterListing(all, "tags", tags), tags);
  assert.equal(filterListing(all, "models", v1), v1);
  assert.equal(allowsModel(all, "anything:at-all"), true);
});
