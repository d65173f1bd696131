import assert from "node:assert/strict";
import { test } from "node:test";
import { checkModelName } from "../lib/model-name.js";

// Ollama's model-name grammar (types/model/name.go): [scheme://][host/][namespace/]model[:tag],
// with a ":cloud"/":local" source suffix (internal/modelref). Whatever Ollama accepts is
// accepted; whatever it refuses is refused here first, with a message that shows no raw
// control character.

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the test.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

test("names Ollama accepts are accepted as they are", () => {
  for (const name of [
    "llama3",
    "llama3.2",
    "Llama3:8B",
    "qwen2.5:7b-instruct-q4_K_M",
    "hf.co/user/repo:Q4_K_M",
    "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:IQ3_M",
    "registry:5000/ns/model:tag",
    "registry.ollama.ai/library/llama3:latest",
    "localhost:11434/ns/m",
    "https://registry.example.com/ns/model:v1",
    "library/llama3",
    "my_org/my-model_v2.1:tag_1.0-rc",
    "_private:_x",
    "gpt-oss:120b-cloud",
    "gpt-oss:120b:cloud",
    "deepseek-v3.1:671b-CLOUD",
    "llama3:local",
    "m".repeat(80),
    `${"h".repeat(350)}/n/m`,
  ]) {
    assert.deepEqual(checkModelName(name), { name }, name);
  }
});

test("white space Ollama trims is trimmed, also around a source suffix", () => {
  assert.deepEqual(checkModelName("  llama3 "), { name: "llama3" });
  assert.deepEqual(checkModelName("\t\r\nllama3:8b\n"), { name: "llama3:8b" });
  assert.deepEqual(checkModelName("\u00a0llama3\u3000"), { name: "llama3" });
  assert.deepEqual(checkModelName("gpt-oss:120b: cloud"), { name: "gpt-oss:120b:cloud" });
  assert.deepEqual(checkModelName("llama3:\tlocal "), { name: "llama3:local" });
  // An empty name is no name: the caller says which key is required.
  assert.deepEqual(checkModelName(""), { name: "" });
  assert.deepEqual(checkModelName(" \n "), { name: "" });
});

test("names Ollama refuses are refused, each with its reason", () => {
  const cases: [string, string][] = [
    [
      "llama3\r\n2026-01-01 alice llama3 1",
      String.raw`invalid model name "llama3\u000d\u000a2026-01-01 alice llama3 1": the model part may contain only letters, digits, "_", "-" and ".", not U+000D`,
    ],
    [
      "\u001b[8mllama3",
      String.raw`invalid model name "\u001b[8mllama3": the model part must start with a letter, a digit or "_", not U+001B`,
    ],
    [
      "llama3\u0000",
      String.raw`invalid model name "llama3\u0000": the model part may contain only letters, digits, "_", "-" and ".", not U+0000`,
    ],
    [
      "llama 3",
      'invalid model name "llama 3": the model part may contain only letters, digits, "_", "-" and ".", not U+0020',
    ],
    [
      "-llama",
      'invalid model name "-llama": the model part must start with a letter, a digit or "_", not "-"',
    ],
    ["llama3:", 'invalid model name "llama3:": the tag is empty'],
    [":latest", 'invalid model name ":latest": the model part is empty'],
    ["/llama3", 'invalid model name "/llama3": the namespace is empty'],
    [
      "a/b/c/d",
      'invalid model name "a/b/c/d": the host may contain only letters, digits, "_", "-", "." and ":", not "/"',
    ],
    [
      "my.org/model",
      'invalid model name "my.org/model": the namespace may contain only letters, digits, "_" and "-", not "."',
    ],
    [
      "localhost:5000/model",
      'invalid model name "localhost:5000/model": the namespace may contain only letters, digits, "_" and "-", not ":"',
    ],
    [
      "model:tag:extra",
      'invalid model name "model:tag:extra": the model part may contain only letters, digits, "_", "-" and ".", not ":"',
    ],
    [
      "llama3:a/b",
      'invalid model name "llama3:a/b": the namespace may contain only letters, digits, "_" and "-", not ":"',
    ],
    ["m:cloud:local", 'invalid model name "m:cloud:local": use either ":local" or ":cloud", not both'],
    [
      `${"x".repeat(81)}`,
      `invalid model name "${"x".repeat(81)}": the model part is longer than 80 characters`,
    ],
    [
      "qwen2.5:7b-指令",
      String.raw`invalid model name "qwen2.5:7b-\u6307\u4ee4": the tag may contain only letters, digits, "_", "-" and ".", not U+6307`,
    ],
    [
      "emoji-🦙",
      String.raw`invalid model name "emoji-\u{1f999}": the model part may contain only letters, digits, "_", "-" and ".", not U+1F999`,
    ],
    [
      "ht tp://h/n/m",
      'invalid model name "ht tp://h/n/m": the scheme before "://" may contain only letters, digits, "+", "-" and "."',
    ],
    [
      'a"b',
      String.raw`invalid model name "a\"b": the model part may contain only letters, digits, "_", "-" and ".", not """`,
    ],
  ];
  for (const [name, error] of cases) {
    const r = checkModelName(name);
    assert.deepEqual(r, { error }, JSON.stringify(name));
    assert.ok(!CONTROL.test(error), `no raw control character in: ${JSON.stringify(error)}`);
  }
});

test("a long refused name is cut in the message", () => {
  const r = checkModelName(`${"a".repeat(300)}\u0007`);
  assert.ok("error" in r);
  assert.ok(r.error.length < 250, r.error);
  assert.match(r.error, /^invalid model name "a{100}…": /);
});
