import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { hostname, userInfo } from "node:os";
import type { TlsConfig } from "../config/types.js";

/** A certificate and key read from `tls`'s files, checked to belong together: what the listener serves. */
export interface TlsPair {
  /** PEM as read: the certificate and any intermediates after it. */
  readonly cert: string;
  readonly key: string;
  /** The `ca` file's PEM (client certificates, not used yet), or null. */
  readonly ca: string | null;
  /** The first certificate of `cert`: the one clients see. */
  readonly certificate: X509Certificate;
}

/** The pair, or every problem with the files, each `tls.cert: …` (the key under the section). */
export type TlsRead = { kind: "ok"; pair: TlsPair } | { kind: "failed"; problems: string[] };

/** A certificate this close to its end is warned about (config check, serve, reload). */
export const EXPIRY_WARNING_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Reads and checks the files `tls` names: each exists and is readable, the certificate and
 * key parse as PEM (the key unencrypted: a service cannot type a passphrase), and the key is
 * the certificate's. The CA file, when given, must hold a certificate too.
 */
export function readTlsPair(tls: TlsConfig): TlsRead {
  const problems: string[] = [];
  const cert = readPem("tls.cert", tls.cert, problems);
  const key = readPem("tls.key", tls.key, problems);
  const ca = tls.ca === null ? null : readPem("tls.ca", tls.ca, problems);

  const certificate = cert === null ? null : parseCertificate("tls.cert", tls.cert, cert, problems);
  const privateKey = key === null ? null : parseKey(tls.key, key, problems);
  if (ca !== null) parseCertificate("tls.ca", tls.ca!, ca, problems);
  if (certificate !== null && privateKey !== null && !certificate.checkPrivateKey(privateKey)) {
    problems.push(
      `tls: the key ${tls.key} does not belong to the certificate ${tls.cert} (they are from different pairs)`,
    );
  }
  if (problems.length > 0 || cert === null || key === null || certificate === null)
    return { kind: "failed", problems };
  return { kind: "ok", pair: { cert, key, ca, certificate } };
}

function readPem(name: string, path: string, problems: string[]): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    if (code === "ENOENT") problems.push(`${name}: ${path} does not exist (ENOENT)`);
    else if (code === "EACCES")
      problems.push(`${name}: ${path} is not readable by ${userName()} (EACCES): ${readableHint(path)}`);
    else if (code === "EISDIR") problems.push(`${name}: ${path} is a folder, not a PEM file`);
    else problems.push(`${name}: cannot read ${path} (${code})`);
    return null;
  }
}

/** What to do about a file the service's user cannot read. */
export function readableHint(path: string): string {
  return `let that user read it (the .deb's service runs as ollama: \`chgrp ollama ${path} && chmod g+r ${path}\`), and search every folder above it`;
}

/** `user ollama (uid 998)`, or the uid alone when the user has no name here. */
function userName(): string {
  try {
    const u = userInfo();
    return `user ${u.username} (uid ${u.uid})`;
  } catch {
    return `uid ${process.getuid?.() ?? "?"}`;
  }
}

function parseCertificate(
  name: string,
  path: string,
  pem: string,
  problems: string[],
): X509Certificate | null {
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    problems.push(
      pem.includes("PRIVATE KEY-----")
        ? `${name}: ${path} holds a private key, not a certificate (are cert and key swapped?)`
        : `${name}: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    );
    return null;
  }
  try {
    return new X509Certificate(pem);
  } catch (err) {
    problems.push(`${name}: ${path}: the certificate does not parse (${(err as Error).message})`);
    return null;
  }
}

function parseKey(path: string, pem: string, problems: string[]): KeyObject | null {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    problems.push(
      pem.includes("-----BEGIN CERTIFICATE-----")
        ? `tls.key: ${path} holds a certificate, not a private key (are cert and key swapped?)`
        : `tls.key: ${path} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`,
    );
    return null;
  }
  try {
    return createPrivateKey(pem);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problems.push(
      code === "ERR_MISSING_PASSPHRASE" || /ENCRYPTED/.test(pem)
        ? `tls.key: ${path} is encrypted with a passphrase, which a service cannot type: write it out unencrypted (\`openssl pkey -in ${path} -out NEW.pem\`) and keep that file readable by the service only`
        : `tls.key: ${path}: the private key does not parse (${(err as Error).message})`,
    );
    return null;
  }
}

/**
 * What looks wrong with a certificate that loads: it has expired, is not valid yet, expires
 * within EXPIRY_WARNING_DAYS, or names none of `hosts` (then clients refuse it unless they
 * use a name it has). Each line starts with `tls.cert: `.
 */
export function certificateWarnings(
  pair: TlsPair,
  path: string,
  hosts: readonly string[],
  now = Date.now(),
): string[] {
  const c = pair.certificate;
  const warnings: string[] = [];
  const from = Date.parse(c.validFrom);
  const to = Date.parse(c.validTo);
  const iso = (ms: number) => new Date(ms).toISOString();
  if (to <= now) {
    warnings.push(
      `tls.cert: the certificate ${path} expired on ${iso(to)}: clients refuse it; renew it, then reload`,
    );
  } else if (from > now) {
    warnings.push(
      `tls.cert: the certificate ${path} is not valid before ${iso(from)}: clients refuse it until then (is this machine's clock right?)`,
    );
  } else if (to - now < EXPIRY_WARNING_DAYS * DAY_MS) {
    const days = Math.floor((to - now) / DAY_MS);
    warnings.push(
      `tls.cert: the certificate ${path} expires in ${days} day(s), on ${iso(to)}: renew it, then reload (SIGHUP)`,
    );
  }
  if (hosts.length > 0 && !hosts.some((h) => namesHost(c, h))) {
    warnings.push(
      `tls.cert: the certificate ${path} is for ${certificateNames(c)}, not for ${hosts.join(" or ")}: clients must reach the proxy by a name the certificate has, or they refuse it`,
    );
  }
  return warnings;
}

/**
 * The names clients probably use for a proxy listening on `bind`: that address itself when
 * it is a specific one (and `localhost` for loopback), else this machine's host name.
 */
export function hostsOf(bind: string): string[] {
  if (bind === "0.0.0.0" || bind === "::") return [hostname()];
  if (bind === "127.0.0.1" || bind === "::1" || bind === "localhost") return ["localhost", bind];
  return [bind];
}

/**
 * Whether the certificate is for `host`. A short host name (no dot) also matches a
 * certificate for a full name that starts with it, or a wildcard: the domain is unknown here.
 */
function namesHost(c: X509Certificate, host: string): boolean {
  if (isIP(host) !== 0) return c.checkIP(host) !== undefined;
  if (c.checkHost(host) !== undefined) return true;
  if (host.includes(".")) return false;
  return dnsNames(c).some((n) => n.startsWith("*.") || n.toLowerCase().startsWith(`${host.toLowerCase()}.`));
}

function dnsNames(c: X509Certificate): string[] {
  return (c.subjectAltName ?? "")
    .split(", ")
    .filter((n) => n.startsWith("DNS:"))
    .map((n) => n.slice(4));
}

/** `DNS:gpu.example.com, IP Address:10.0.0.5`, or the subject's CN when there is no SAN. */
function certificateNames(c: X509Certificate): string {
  if (c.subjectAltName) return c.subjectAltName;
  const cn = /CN=([^\n]+)/.exec(c.subject)?.[1];
  return cn ? `CN=${cn} (no subjectAltName: clients ignore the CN)` : "no name";
}

/** True when the certificate signed itself: a client must then trust that very certificate. */
export function isSelfSigned(c: X509Certificate): boolean {
  return c.checkIssued(c) && c.verify(c.publicKey);
}
