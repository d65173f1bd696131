import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { haveScript, runCliProcess } from "./fixtures/run-cli-process.js";
import { startProxy, tempDir } from "./helpers.js";

// On a terminal, `models pull` draws one progress bar per server and redraws them in place:
// bytes, percentage, rate and ETA while it runs, and how each server ended. Here through the
// proxy, with the admin token in OLLAMA_PROXY_TOKEN, on a real pseudo-terminal.

test("models pull on a terminal: one bar per server redrawn in place, then done or failed per server", async (t) => {
  if (!(await haveScript()))
    return t.skip("util-linux `script` is not installed: no pseudo-terminal to test on");
  const behaviour = { pullBytes: 4.7e9, pullSteps: 12, intervalMs: 40 };
  const a = await startFakeOllama({ name: "a", models: [], behaviour });
  const b = await startFakeOllama({
    name: "b",
    models: [],
    behaviour: { ...behaviour, pullError: "disk full" },
  });
  t.after(() => Promise.all([a.close(), b.close()]));
  const proxy = await startProxy(t, [a, b]);

  const run = await runCliProcess(["models", "pull", "llama3", "--all", "--url", proxy.url], {
    terminal: true,
    env: { OLLAMA_PROXY_TOKEN: proxy.adminToken, XDG_CONFIG_HOME: tempDir(t) },
  });
  assert.equal(run.code, 1, "b failed");
  // The control codes as words: CSI 2K clears a line, CSI 2A moves up two lines.
  const screen = run.stdout
    .replaceAll("\r\n", "\n")
    .replaceAll("\x1b[2K", "<clear>")
    .replaceAll("\x1b[2A", "<up 2>");
  assert.ok(!screen.includes("\x1b"), "no other control code");
  // The block of two lines is drawn, then redrawn over itself, line by line.
  assert.match(screen, /^<clear>a +\[░{24}\] {2}(waiting|pulling manifest)\n<clear>b +\[/);
  const frames = screen.split("<up 2>");
  assert.ok(frames.length > 3, `redrawn in place several times (${frames.length - 1})`);
  for (const frame of frames.slice(1, -1)) assert.match(frame, /^<clear>a [^\n]*\n<clear>b [^\n]*\n$/);
  assert.ok(
    frames.some((f) =>
      /<clear>a +\[█+░*\] +\d+% {2}[\d.]+ (MB|GB)\/4\.7 GB {2}[\d.]+ [kMG]?B\/s {2}ETA \d+s/.test(f),
    ),
    "a frame with bytes, percentage, rate and ETA",
  );
  // The last frame: how each ended.
  assert.match(frames.at(-1)!, /^<clear>a +✔ done: 4\.7 GB in \d+s\n<clear>b +✘ failed: disk full\n/);
  assert.doesNotMatch(screen, /"server"/, "no JSON on a terminal");
  assert.match(run.stdout + run.stderr, /ollama-proxy: pull of llama3 failed on b \(disk full\)/);
  assert.ok(a.models.some((m) => m.name === "llama3:latest"));
});
