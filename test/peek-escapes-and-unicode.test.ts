import assert from "node:assert/strict";
import { test } from "node:test";
import { checkModelName } from "../lib/model-name.js";
import { ModelScanner } from "../lib/stages/model-scanner.js";

// The scanner decodes only the key and value it needs; escapes and multi-byte UTF-8 must come
// out exactly as JSON.parse would read them.

function scan(body: string | Uint8Array, keys: readonly string[] = ["model"]) {
  const s = new ModelScanner(keys);
  s.push(typeof body === "string" ? Buffer.from(body, "utf8") : body);
  return s.finish();
}

/**
 * The scanner's answer for a body naming `name`: the name, or, outside Ollama's grammar, the
 * refusal — whose message quotes the decoded name, so it too shows the decoding exactly.
 */
function answerFor(name: string) {
  const c = checkModelName(name);
  return "error" in c ? { error: c.error } : { model: c.name };
}

test("escapes in the model value are decoded as JSON.parse decodes them", () => {
  for (const body of [
    String.raw`{"model":"a\"b"}`,
    String.raw`{"model":"back\\slash"}`,
    String.raw`{"model":"sl\/ash"}`,
    String.raw`{"model":"tab\there"}`,
    String.raw`{"model":"\u006c\u006c\u0061\u006d\u0061\u0033"}`,
    String.raw`{"model":"\u00e9t\u00C9"}`,
  ]) {
    const want = (JSON.parse(body) as { model: string }).model;
    assert.deepEqual(scan(body), answerFor(want), body);
  }
});

test("a key written with \\u escapes is still the model key", () => {
  assert.deepEqual(scan(String.raw`{"\u006dodel":"llama3"}`), { model: "llama3" });
  assert.deepEqual(scan(String.raw`{"mod\u0065l":"llama3"}`), { model: "llama3" });
  // Not the model key: an escaped quote makes it a different key.
  assert.deepEqual(scan(String.raw`{"model\"":"x","model":"y"}`), { model: "y" });
});

test("escaped quotes and braces inside skipped strings do not end them early", () => {
  const body = String.raw`{"prompt":"say \"}\" and {\"model\":\"evil\"}","model":"good"}`;
  assert.deepEqual(scan(body), { model: "good" });
});

test("a surrogate pair in \\u escapes decodes to one character", () => {
  assert.deepEqual(scan(String.raw`{"model":"smile-\ud83d\ude00"}`), answerFor("smile-😀"));
  assert.deepEqual(scan(String.raw`{"prompt":"\ud83d\ude00","model":"x"}`), { model: "x" });
});

test("an unpaired surrogate escape in the model is refused, not routed as a broken name", () => {
  for (const body of [
    String.raw`{"model":"\ud83d"}`,
    String.raw`{"model":"a\ude00b"}`,
    String.raw`{"model":"\ude00\ud83d"}`,
  ]) {
    const r = scan(body);
    assert.ok("error" in r, body);
    assert.match(r.error, /^invalid request: "model"/, body);
  }
});

test("unicode model names decode the same raw or escaped (and are refused as Ollama refuses them)", () => {
  for (const name of ["qwen2.5:7b-指令", "модель:latest", "ollama.com/ü/ñ:tag", "emoji-🦙:1b"]) {
    assert.match(answerFor(name).error ?? "", /^invalid model name /, name);
    assert.deepEqual(scan(JSON.stringify({ model: name })), answerFor(name));
    // JSON.stringify leaves non-ASCII raw; the escaped spelling must give the same name.
    const escaped = `{"model":"${[...name].map((c) => (c.charCodeAt(0) < 128 ? c : toEscapes(c))).join("")}"}`;
    assert.deepEqual(scan(escaped), answerFor(name), escaped);
  }
});

test("multi-byte characters in skipped values do not disturb the scan", () => {
  const body = JSON.stringify({ prompt: "日本語 🦙 ü \u2028", images: ["€€€"], model: "llama3" });
  assert.deepEqual(scan(body), { model: "llama3" });
});

function toEscapes(c: string): string {
  let out = "";
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return out;
}
