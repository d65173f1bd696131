import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { test } from "node:test";
import { stringify } from "yaml";
import { openStore } from "../lib/store/open.js";
import { cliSetup, runCli } from "./helpers.js";

// Policies are assigned with `users create --policy` and `users set`; only a policy the config
// defines can be assigned, and the refusal lists the defined ones. `users list` shows each
// user's policy.

const POLICIES = {
  default: { models: ["*"], max_concurrent: 8 },
  interactive: { weight: 4 },
  batch: { models: ["llama3*"], requests_per_minute: 600 },
};

function setup(t: Parameters<typeof cliSetup>[0], policies: unknown = POLICIES) {
  const s = cliSetup(t);
  writeFileSync(
    s.file,
    stringify({
      test: { database: s.database, servers: {}, logging: { level: "silent", dir: null }, policies },
    }),
  );
  return s;
}

async function ok(argv: string[]): Promise<string> {
  const r = await runCli(argv);
  assert.equal(r.code, 0, `${argv.join(" ")}: ${r.err}`);
  assert.equal(r.err, "");
  return r.out;
}

test("create with a policy, change it with set, clear it with --no-policy", async (t) => {
  const { args, database } = setup(t);
  const created = JSON.parse(
    await ok(["users", "create", "ann", "--policy", "batch", "--json", ...args]),
  ) as {
    policy: string;
  };
  assert.equal(created.policy, "batch");
  await ok(["users", "create", "bob", ...args]);

  assert.equal(
    await ok(["users", "set", "bob", "--policy", "interactive", ...args]),
    "Updated bob: policy interactive, role user, expires never.",
  );
  assert.equal(
    await ok(["users", "set", "ann", "--no-policy", "--admin", ...args]),
    "Updated ann: policy (default), role admin, expires never.",
  );
  const set = JSON.parse(
    await ok(["users", "set", "ann", "--no-admin", "--expires-in", "30d", "--json", ...args]),
  ) as {
    role: string;
    policy: string | null;
    expires_at: string;
  };
  assert.equal(set.role, "user");
  assert.equal(set.policy, null);
  assert.ok(Math.abs(Date.parse(set.expires_at) - (Date.now() + 30 * 86_400_000)) < 60_000);

  const store = openStore(database);
  t.after(() => store.close());
  assert.deepEqual(
    store.users.list().map((u) => [u.name, u.policy, u.role]),
    [
      ["ann", null, "user"],
      ["bob", "interactive", "user"],
    ],
  );
  // The running server's token map is built from credentials(): it sees the new policy.
  assert.equal(store.users.credentials().find((c) => c.user.name === "bob")?.user.policy, "interactive");
});

test("users list has a POLICY column, and --json the assigned policy", async (t) => {
  const { args, database } = setup(t);
  await ok(["users", "create", "ann", "--policy", "batch", ...args]);
  await ok(["users", "create", "bob", ...args]);
  // A policy the config no longer defines (the file was edited since): flagged, not hidden.
  const store = openStore(database);
  store.users.create("cy", { policy: "gold" });
  store.close();

  const lines = (await ok(["users", "list", ...args])).split("\n");
  assert.match(lines[0]!, /^NAME +ROLE +POLICY +STATE +TOKEN/);
  assert.match(lines[1]!, /^ann +user +batch +active /);
  assert.match(lines[2]!, /^bob +user +\(default\) +active /);
  assert.match(lines[3]!, /^cy +user +gold \(undefined: refused\) +active /);
  const json = JSON.parse(await ok(["users", "list", "--json", ...args])) as {
    name: string;
    policy: string | null;
  }[];
  assert.deepEqual(
    json.map((u) => [u.name, u.policy]),
    [
      ["ann", "batch"],
      ["bob", null],
      ["cy", "gold"],
    ],
  );
});

test("without a default policy, users without one show -", async (t) => {
  const { args } = setup(t, { batch: {} });
  await ok(["users", "create", "bob", ...args]);
  assert.match((await ok(["users", "list", ...args])).split("\n")[1]!, /^bob +user +- +active /);
});

test("a policy the config does not define is refused, naming the defined ones; nothing is written", async (t) => {
  const { args, database } = setup(t);
  const r = await runCli(["users", "create", "ann", "--policy", "gold", ...args]);
  assert.equal(r.code, 1);
  assert.equal(r.out, "");
  assert.match(
    r.err,
    /^ollama-proxy: --policy gold: no such policy in .*ollama_proxy\.yml \[test\]; defined: batch, default, interactive$/,
  );

  await ok(["users", "create", "bob", ...args]);
  const s = await runCli(["users", "set", "bob", "--policy", "gold", "--admin", ...args]);
  assert.equal(s.code, 1);
  assert.match(s.err, /defined: batch, default, interactive$/);
  const store = openStore(database);
  t.after(() => store.close());
  assert.deepEqual(
    store.users.list().map((u) => [u.name, u.policy, u.role]),
    [["bob", null, "user"]],
    "ann was not created; bob was not changed",
  );
});

test("a config without policies refuses every --policy and says how to add them", async (t) => {
  const { args } = cliSetup(t);
  const r = await runCli(["users", "create", "ann", "--policy", "batch", ...args]);
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    /^ollama-proxy: --policy batch: .*ollama_proxy\.yml \[test\] defines no policies; add a "policies:" section first \(README, "Policies"\)$/,
  );
  // --no-policy needs no policies.
  await ok(["users", "create", "bob", ...args]);
  await ok(["users", "set", "bob", "--no-policy", ...args]);
});

test("users set: nothing to change, both --policy and --no-policy, an empty name, an unknown user", async (t) => {
  const { args } = setup(t);
  await ok(["users", "create", "bob", ...args]);
  const cases: [string[], number, string][] = [
    [
      ["users", "set", "bob"],
      64,
      "ollama-proxy: users set: nothing to change; give --policy NAME, --no-policy, --admin, --no-admin or --expires-in D",
    ],
    [
      ["users", "set", "bob", "--policy", "batch", "--no-policy"],
      64,
      "ollama-proxy: give either --policy NAME or --no-policy, not both",
    ],
    [
      ["users", "set", "bob", "--policy"],
      64,
      "ollama-proxy: --policy needs the name of a policy defined in the config",
    ],
    [
      ["users", "set", "bob", "--expires-in", "soon"],
      64,
      'ollama-proxy: --expires-in: "soon" is not a duration like 90m, 24h, 30d or 2w',
    ],
    [["users", "set", "ghost", "--policy", "batch"], 1, 'ollama-proxy: no user named "ghost"'],
    [["users", "show", "ghost"], 1, 'ollama-proxy: no user named "ghost"'],
  ];
  for (const [argv, code, first] of cases) {
    const r = await runCli([...argv, ...args]);
    assert.equal(r.code, code, argv.join(" "));
    assert.equal(r.err.split("\n")[0], first, argv.join(" "));
    assert.equal(r.out, "", argv.join(" "));
  }
});
