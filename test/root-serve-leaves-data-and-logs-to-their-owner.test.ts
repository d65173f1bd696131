import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { stringify } from "yaml";
import { ROOT, tempDir, waitFor } from "./helpers.js";

// An operator debugging the installed package runs `ollama-proxy serve` as root. Its database
// and application log must still be the service user's afterwards, or the service cannot
// start again (its log folder is not re-owned by systemd once the folder itself is right).

const OWNER = 65534;
const cli = pathToFileURL(join(ROOT, ".build/lib/cli/main.js")).href;

test("root's serve writes its database and log as the data folder's owner", {
  skip: process.getuid?.() !== 0 && "needs root to give a folder to another user",
}, async (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const data = join(dir, "lib");
  const logs = join(dir, "log");
  for (const d of [data, logs]) {
    mkdirSync(d, { mode: 0o750 });
    chownSync(d, OWNER, OWNER);
  }
  const file = join(dir, "config.yml");
  writeFileSync(
    file,
    stringify({
      production: {
        bind: "127.0.0.1",
        servers: {},
        database: join(data, "ollama-proxy.sqlite3"),
        logging: { dir: logs },
      },
    }),
    { mode: 0o640 },
  );
  chownSync(file, 0, OWNER);

  const script = `import { main } from ${JSON.stringify(cli)}; process.exit(await main(process.argv.slice(1)));`;
  const args = ["serve", "--config", file, "--env", "production", "--port", "0"];
  const child = spawn(process.execPath, ["--input-type=module", "-e", script, "--", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  t.after(() => child.kill("SIGKILL"));
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = once(child, "exit");
  await waitFor("serve listening", () => stderr.includes(" listening on "), 15_000);
  const url = / listening on (http:\S+)/.exec(stderr)?.[1];
  // Answering means serve's start-up run, signal handlers included, is over.
  assert.equal((await fetch(`${url}/health`)).status, 503);
  child.kill("SIGTERM");
  assert.deepEqual(await exited, [0, null], stderr);

  const files = [data, logs].flatMap((d) => readdirSync(d).map((f) => join(d, f)));
  assert.ok(files.some((f) => f.endsWith(".sqlite3")) && files.some((f) => f.endsWith(".1.log")), `${files}`);
  for (const f of files) {
    const st = statSync(f);
    assert.deepEqual([f, st.uid, st.gid], [f, OWNER, OWNER], `${f} belongs to the folder's owner`);
  }
});
