/** Reading a process's memory from /proc (Linux): what the benchmark samples in its targets. */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

/** Resident set size of each pid, in bytes, summed (0 for a pid that is gone). */
export function rss(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += statusKb(pid, "VmRSS");
  return total;
}

/** Peak resident set size since the last `resetPeak`, summed over pids, in bytes. */
export function peakRss(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += statusKb(pid, "VmHWM");
  return total;
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0, `echo 5 > clear_refs`); false when not allowed. */
export function resetPeak(pids: readonly number[]): boolean {
  let ok = true;
  for (const pid of pids) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, "5");
    } catch {
      ok = false;
    }
  }
  return ok;
}

/** The direct children of `pid` (nginx's workers), from each process's stat line. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // Field 4 (ppid) follows the command name, which is in parentheses and may hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** The soft and hard limits on open files of `pid`. */
export function fileLimit(pid: number | "self" = "self"): { soft: number; hard: number } {
  const text = readFileSync(`/proc/${pid}/limits`, "utf8");
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  const num = (s: string | undefined) =>
    s === undefined || s === "unlimited" ? Number.POSITIVE_INFINITY : Number(s);
  return { soft: num(m?.[1]), hard: num(m?.[2]) };
}

let ticksPerSecond = 0;

/** CPU time (user + system, all threads) used so far by the pids, in µs; clock-tick resolution (10 ms). */
export function cpuUs(pids: readonly number[]): number {
  if (ticksPerSecond === 0) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // utime and stime are fields 14 and 15; the fields after the command name start at field 3.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process is gone.
    }
  }
  return (ticks * 1e6) / ticksPerSecond;
}
