import { defineConfig } from "tsup";

// The worker entries keep their own file names: lib/log/request-log.ts and
// lib/cli/usage-report.ts start them with new URL("./<name>.js", import.meta.url), which must resolve both in dist/
// (bundled) and in .build/lib/log/ (the tests' tsc output).
export default defineConfig({
  entry: {
    index: "lib/index.ts",
    cli: "lib/cli/main.ts",
    "request-log-worker": "lib/log/request-log-worker.ts",
    "usage-report-worker": "lib/cli/usage-report-worker.ts",
  },
  format: ["esm"],
  target: "node20",
  platform: "node",
  outDir: "dist",
  splitting: true,
  sourcemap: true,
  clean: true,
  dts: false,
});
