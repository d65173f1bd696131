import assert from "node:assert/strict";
import { test } from "node:test";
import { hashToken } from "../lib/store/users.js";
import { cliSetup, runCli } from "./helpers.js";

// `users list` is safe to paste into a ticket: it shows who exists and a token prefix to
// recognise a token by, never a token nor anything derived from one beyond that prefix.

async function create(args: string[], name: string, ...extra: string[]): Promise<string> {
  const r = await runCli(["users", "create", name, "--json", ...extra, ...args]);
  assert.equal(r.code, 0, r.err);
  return (JSON.parse(r.out) as { token: string }).token;
}

test("neither the human nor the JSON listing contains a token or its hash", async (t) => {
  const { args } = cliSetup(t);
  const tokens = [
    await create(args, "alice"),
    await create(args, "root", "--admin", "--expires-in", "7d"),
    await create(args, "carol.smith@example.org"),
  ];
  assert.equal((await runCli(["users", "deactivate", "alice", ...args])).code, 0);

  const human = await runCli(["users", "list", ...args]);
  const json = await runCli(["users", "list", "--json", ...args]);
  for (const r of [human, json]) {
    assert.equal(r.code, 0, r.err);
    for (const token of tokens) {
      const hash = hashToken(token);
      for (const secret of [
        token,
        token.slice(12),
        hash.toString("hex"),
        hash.toString("base64"),
        hash.toString("base64url"),
      ]) {
        assert.ok(!r.out.includes(secret), `listing shows ${secret}`);
      }
    }
    assert.doesNotMatch(r.out, /token_hash|tokenHash|"token"/);
  }

  const lines = human.out.split("\n");
  assert.match(lines[0]!, /^NAME\s+ROLE\s+POLICY\s+STATE\s+TOKEN\s+EXPIRES\s+LAST USED\s+CREATED$/);
  assert.equal(lines.length, 4);
  const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))!.split(/\s{2,}/);
  // POLICY is "-": this config defines no policies.
  assert.deepEqual(row("alice").slice(0, 5), [
    "alice",
    "user",
    "-",
    "deactivated",
    `${tokens[0]!.slice(0, 12)}…`,
  ]);
  assert.deepEqual(row("root").slice(0, 4), ["root", "admin", "-", "active"]);
  assert.match(row("root")[5]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, "root expires");
  assert.equal(row("alice")[5], "-", "alice never expires");

  const listed = JSON.parse(json.out) as Record<string, unknown>[];
  assert.deepEqual(
    listed.map((u) => [u.name, u.role, u.active, u.token_prefix]),
    [
      ["alice", "user", false, tokens[0]!.slice(0, 12)],
      ["carol.smith@example.org", "user", true, tokens[2]!.slice(0, 12)],
      ["root", "admin", true, tokens[1]!.slice(0, 12)],
    ],
  );
  for (const u of listed) {
    assert.deepEqual(Object.keys(u).sort(), [
      "active",
      "created_at",
      "expired",
      "expires_at",
      "last_used_at",
      "name",
      "policy",
      "role",
      "state",
      "token_prefix",
    ]);
  }
});

test("with no users, the listing says how to make one; --json gives []", async (t) => {
  const { args } = cliSetup(t);
  const human = await runCli(["users", "list", ...args]);
  assert.equal(human.code, 0, human.err);
  assert.equal(human.out, "No users yet. Create one with: ollama-proxy users create NAME [--admin]");
  const json = await runCli(["users", "list", "--json", ...args]);
  assert.equal(json.out, "[]");
});
