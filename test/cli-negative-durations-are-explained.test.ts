import assert from "node:assert/strict";
import { test } from "node:test";
import { cliSetup, runCli } from "./helpers.js";

// `--expires-in -5m` is read as a value, not as the flags -5 and -m ("Unknown arguments: 5,
// m"), and refused for what it is: a token cannot be made to expire in the past. Where a
// minus makes sense (`usage --since -2h`: 2 hours ago, as journalctl writes it) it is taken.

test("--expires-in -5m is refused with a clear message, and nothing is created", async (t) => {
  const { args } = cliSetup(t);
  for (const argv of [
    ["users", "create", "alice", "--expires-in", "-5m"],
    ["users", "create", "alice", "--expires-in=-5m"],
  ]) {
    const r = await runCli([...argv, ...args]);
    assert.equal(r.code, 64, argv.join(" "));
    assert.equal(
      r.err.split("\n")[0],
      'ollama-proxy: --expires-in: "-5m" is in the past; give the token\'s lifetime from now, like 90m, 24h, 30d or 2w (to stop a token now: users deactivate NAME)',
    );
  }
  assert.equal((await runCli(["users", "create", "alice", ...args])).code, 0, "the name was never taken");
  const rotate = await runCli(["users", "rotate", "alice", "--expires-in", "-1d", ...args]);
  assert.equal(rotate.code, 64);
  assert.match(rotate.err, /--expires-in: "-1d" is in the past/);
  const nonsense = await runCli(["users", "rotate", "alice", "--expires-in", "soon", ...args]);
  assert.equal(
    nonsense.err.split("\n")[0],
    'ollama-proxy: --expires-in: "soon" is not a duration like 90m, 24h, 30d or 2w',
  );
  const compound = await runCli(["users", "rotate", "alice", "--expires-in", "1h30m", "--json", ...args]);
  assert.equal(compound.code, 0, compound.err);
  const expires = Date.parse(JSON.parse(compound.out).expires_at);
  assert.ok(Math.abs(expires - (Date.now() + 90 * 60_000)) < 60_000, "1h30m is 90 minutes");
});

test("usage --since -2h means 2 hours ago", async (t) => {
  const { args } = cliSetup(t);
  await runCli(["users", "create", "alice", ...args]);
  const r = await runCli(["usage", "--since", "-2h", "--json", ...args]);
  assert.equal(r.code, 0, r.err);
  const since = Date.parse(JSON.parse(r.out).since);
  assert.ok(Math.abs(since - (Date.now() - 2 * 3_600_000)) < 60_000);
});
