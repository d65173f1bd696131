import { readFileSync, realpathSync, type Stats, statSync } from "node:fs";
import { dirname } from "node:path";
import type { Config } from "../config/types.js";
import { certificateWarnings, hostsOf, readableHint, readTlsPair } from "../http/tls.js";

/** The user `serve` reads the TLS files as. */
type ServiceUser =
  /** This very process: the kernel answers for it. */
  | { kind: "self" }
  /** Root checking for the owner of the database folder, whom `serve` becomes (actAsDataOwner). */
  | { kind: "owner"; uid: number; gid: number; name: string; folder: string };

/**
 * `config check`'s verdict on `tls`: errors (missing, unreadable by the service's user, not
 * PEM, not one pair) and warnings (expiry, host name), each `ENV.tls.…: message`.
 */
export function checkTlsFiles(config: Config): { errors: string[]; warnings: string[] } {
  const tls = config.tls;
  if (tls === null) return { errors: [], warnings: [] };
  const prefix = (line: string) => `${config.env}.${line}`;
  const errors: string[] = [];
  const user = serviceUser(config.database);
  if (user.kind === "owner") {
    for (const [name, path] of [
      ["tls.cert", tls.cert],
      ["tls.key", tls.key],
      ["tls.ca", tls.ca],
    ] as const) {
      if (path === null) continue;
      const why = unreadableBy(path, user);
      if (why !== null)
        errors.push(
          prefix(
            `${name}: ${path} is not readable by ${user.name} (uid ${user.uid}), who owns the database folder ${user.folder} and whom \`serve\` runs as: ${why}; ${readableHint(path)}`,
          ),
        );
    }
  }
  const read = readTlsPair(tls);
  if (read.kind === "failed") return { errors: [...errors, ...read.problems.map(prefix)], warnings: [] };
  return { errors, warnings: certificateWarnings(read.pair, tls.cert, hostsOf(config.bind)).map(prefix) };
}

/** Who `serve` will be: as actAsDataOwner decides, from the database folder's owner when run as root. */
function serviceUser(database: string): ServiceUser {
  if (process.getuid?.() !== 0) return { kind: "self" };
  const folder = dirname(database);
  let st: Stats;
  try {
    st = statSync(folder);
  } catch {
    return { kind: "self" };
  }
  if (st.uid === 0) return { kind: "self" };
  return { kind: "owner", uid: st.uid, gid: st.gid, name: userName(st.uid), folder };
}

/**
 * Why `user` cannot read `path`, from the permission bits (owner, then group, then others, as
 * the kernel decides; the user's primary group only, which is what `serve` keeps), along the
 * path as written and along the one its links lead to. null when it can, or when the file is
 * missing (reading it reports that).
 */
function unreadableBy(path: string, user: { uid: number; gid: number }): string | null {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return null;
  }
  for (const p of new Set([path, real])) {
    for (const folder of ancestors(p)) {
      const st = statSync(folder);
      if (!allowed(st, user, 1)) return `the folder ${folder} is not searchable by that user`;
    }
  }
  if (!allowed(statSync(real), user, 4)) return "its permissions do not let that user read it";
  return null;
}

/** `/a/b/c.pem` → `/`, `/a`, `/a/b`. */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let d = dirname(path); ; d = dirname(d)) {
    out.unshift(d);
    if (dirname(d) === d) return out;
  }
}

/** Whether the mode grants `bit` (4 read, 1 search) to the user: the first class that matches decides. */
function allowed(st: Stats, user: { uid: number; gid: number }, bit: number): boolean {
  if (st.uid === user.uid) return ((st.mode >> 6) & bit) !== 0;
  if (st.gid === user.gid) return ((st.mode >> 3) & bit) !== 0;
  return (st.mode & bit) !== 0;
}

/** The name /etc/passwd gives a uid, else `uid N`. */
function userName(uid: number): string {
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const [name, , id] = line.split(":");
      if (name && Number(id) === uid) return name;
    }
  } catch {
    // no passwd file (a container): the number says it
  }
  return `uid ${uid}`;
}
