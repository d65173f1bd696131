import assert from "node:assert/strict";
import { test } from "node:test";
import { type ProviderKind, startExternal } from "./external-helpers.js";
import { waitFor } from "./helpers.js";

// A client that leaves mid-stream must stop the provider's generation too (it bills every
// token): the provider's connection closes within a deadline, and the request log says the
// client aborted.

for (const kind of ["openai", "anthropic"] as ProviderKind[]) {
  test(`ollama client abort mid-stream aborts the ${kind} request`, async (t) => {
    const x = await startExternal(t, kind, { behaviour: { stallAfterChunks: 2 } });
    const stream = await x.ollama.chat({
      model: x.model,
      messages: [{ role: "user", content: "Tell me a long story." }],
      stream: true,
    });
    let got = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of stream) {
          if (++got === 2) stream.abort();
        }
      })(),
      /abort/i,
    );
    assert.equal(got, 2);
    await waitFor(
      `the ${kind} fake to see its request aborted`,
      () => x.fake.aborted() === 1 && x.fake.inProgress() === 0,
    );
    await waitFor("the request to be recorded", () => x.done.length === 1);
    assert.equal(x.done[0]!.clientAborted, true);
    assert.equal(x.done[0]!.server, kind);
  });

  test(`openai SDK abort mid-stream aborts the ${kind} request`, async (t) => {
    const x = await startExternal(t, kind, { behaviour: { stallAfterChunks: 2 } });
    const stream = await x.openai.chat.completions.create({
      model: x.model,
      messages: [{ role: "user", content: "Tell me a long story." }],
      stream: true,
    });
    let text = "";
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? "";
      if (
        text ===
        x.fake.answers[0]!.text.split(/(?<= )/)
          .slice(0, 2)
          .join("")
      )
        break; // leaving the loop aborts the request
    }
    await waitFor(
      `the ${kind} fake to see its request aborted`,
      () => x.fake.aborted() === 1 && x.fake.inProgress() === 0,
    );
    await waitFor("the request to be recorded", () => x.done.length === 1);
    assert.equal(x.done[0]!.clientAborted, true);
  });
}
