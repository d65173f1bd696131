import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "./helpers.js";

// A bare command asks what there is: `ollama-proxy`, `ollama-proxy users`, `ollama-proxy
// config` print their help (exit 0), not an error. Every option of every command is
// described in its --help, --json included wherever a command prints data.

test("a bare command prints its help", async () => {
  const top = await runCli([]);
  assert.deepEqual([top.code, top.err], [0, ""]);
  assert.match(top.out, /^ollama-proxy <command> \[options\]/);
  for (const cmd of ["serve", "users", "config", "health", "route <model>", "usage"])
    assert.match(top.out, new RegExp(`^  ollama-proxy ${cmd.replace(/[<>]/g, "\\$&")}\\s`, "m"), cmd);
  assert.match(top.out, /Exit codes: 0 ok; 1 failed/);

  const users = await runCli(["users"]);
  assert.deepEqual([users.code, users.err], [0, ""]);
  assert.match(users.out, /^ollama-proxy users\n/);
  for (const sub of [
    "create <name>",
    "list",
    "deactivate <name>",
    "activate <name>",
    "delete <name>",
    "rotate <name>",
  ])
    assert.match(users.out, new RegExp(`^  ollama-proxy users ${sub}\\s`, "m"), sub);

  const config = await runCli(["config"]);
  assert.deepEqual([config.code, config.err], [0, ""]);
  assert.match(config.out, /^ {2}ollama-proxy config check\s/m);

  // With options but still no subcommand: help too.
  const withOptions = await runCli(["users", "--env", "production"]);
  assert.equal(withOptions.code, 0);
  assert.match(withOptions.out, /^ollama-proxy users\n/);
});

const COMMANDS = [
  ["serve"],
  ["users", "create", "x"],
  ["users", "list"],
  ["users", "deactivate", "x"],
  ["users", "activate", "x"],
  ["users", "delete", "x"],
  ["users", "rotate", "x"],
  ["config", "check"],
  ["health"],
  ["route", "x"],
  ["usage"],
];

/** Commands that print data: each takes --json. */
const PRINT_DATA = new Set([
  "users list",
  "users create",
  "users rotate",
  "users deactivate",
  "users activate",
  "users delete",
  "config check",
  "health",
  "route",
  "usage",
]);

test("every option of every command has a description, and --json is there where data is printed", async () => {
  for (const argv of COMMANDS) {
    const help = await runCli([...argv, "--help"]);
    assert.equal(help.code, 0, argv.join(" "));
    // yargs lists an option as `  --name  description  [type] …`; one without a description
    // has nothing between its name and the bracket.
    const options = help.out.split("\n").filter((l) => /^\s+(-\w, )?--[\w-]+/.test(l));
    assert.ok(options.length > 0, help.out);
    for (const line of options)
      assert.doesNotMatch(
        line,
        /^\s+(-\w, )?--[\w-]+\s+\[/,
        `${argv.join(" ")}: undescribed option: ${line}`,
      );
    const name = argv.filter((a) => a !== "x").join(" ");
    if (PRINT_DATA.has(name)) assert.match(help.out, /^\s+--json\s+\w/m, `${name} --help shows --json`);
  }
});
