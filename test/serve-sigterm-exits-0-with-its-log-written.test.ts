import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { stringify } from "yaml";
import { ROOT, tempDir, waitFor } from "./helpers.js";

// systemd stops the service with SIGTERM and reads its exit code: 0, with the application
// log's last line ("stopped") on disk, every time. The log folder does not exist before the
// first start (a fresh install without the package's postinst, a changed logging.dir).

const cli = pathToFileURL(join(ROOT, ".build/lib/cli/main.js")).href;

test("serve writes its log to a new folder and exits 0 on SIGTERM, run after run", async (t) => {
  for (let run = 1; run <= 3; run++) {
    const dir = tempDir(t);
    const logDir = join(dir, "log", "ollama-proxy");
    const file = join(dir, "config.yml");
    writeFileSync(
      file,
      stringify({
        production: {
          bind: "127.0.0.1",
          servers: {},
          database: join(dir, "proxy.sqlite3"),
          logging: { level: "info", dir: logDir },
        },
      }),
    );
    const script = `import { main } from ${JSON.stringify(cli)}; process.exit(await main(process.argv.slice(1)));`;
    const child = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        script,
        "--",
        "serve",
        "--config",
        file,
        "--env",
        "production",
        "--port",
        "0",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    t.after(() => child.kill("SIGKILL"));
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = once(child, "exit");
    await waitFor(`run ${run}: serve listening`, () => stderr.includes(" listening on "), 15_000);
    // "listening" is printed just before serve installs its signal handlers, in the same
    // synchronous run; once the server answers a request, that run is over and they are in.
    const url = / listening on (http:\S+)/.exec(stderr)?.[1];
    assert.ok(url, stderr);
    await fetch(`${url}/health`).then((r) => r.arrayBuffer());

    child.kill("SIGTERM");
    const [code, signal] = await exited;
    assert.deepEqual([code, signal], [0, null], `run ${run} exit status; stderr:\n${stderr}`);
    // application.log is the name operators use: a link that reaches the live dated file.
    const last = readFileSync(join(logDir, "application.log"), "utf8").trimEnd().split("\n").at(-1) ?? "";
    assert.equal(JSON.parse(last).msg, "stopped", `run ${run}: the log ends with "stopped"`);
  }
});
