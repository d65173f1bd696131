/**
 * The value of one text field of a multipart/form-data body (RFC 7578), found the way Ollama
 * reads it (Go's mime/multipart and `Request.FormValue`): the first part whose
 * Content-Disposition is `form-data` with that `name` and no `filename` — a part with a
 * filename is a file, never a value. Only the parts before it are looked at; what follows is
 * Ollama's to judge. Returns `null` when no part has the field, or why the form cannot be read.
 */
export function formField(
  body: Buffer,
  contentType: string | undefined,
  field: string,
): { readonly value: string } | null | { readonly error: string } {
  const boundary = boundaryOf(contentType);
  if (boundary === null)
    return { error: "invalid form: the Content-Type must be multipart/form-data with a boundary" };
  const dash = Buffer.from(`--${boundary}`);
  // The first delimiter may follow a preamble; every delimiter starts a line (RFC 2046 §5.1.1).
  let at = delimiterAt(body, dash, 0);
  if (at === null) return { error: "invalid form: no part starts with the form's boundary" };
  for (let parts = 0; !at.closing; parts++) {
    if (parts === MAX_PARTS)
      return { error: `invalid form: more than ${MAX_PARTS} parts before the ${field} field` };
    const head = headOf(body, at.next);
    if (head === null) return { error: "invalid form: a part's headers do not end with a blank line" };
    // The part's content ends where the next delimiter line starts.
    const next = delimiterAt(body, dash, head.end);
    if (next === null) return { error: "invalid form: the form ends before its closing boundary" };
    if (head.name === field && !head.file) {
      if (head.encoded) return { error: `invalid form: the ${field} field is quoted-printable` };
      // The line break before a delimiter belongs to the delimiter.
      let end = next.start;
      if (body[end - 1] === LF) end--;
      if (body[end - 1] === CR) end--;
      if (end - head.end > MAX_VALUE) return { error: `invalid form: the ${field} field is too long` };
      return { value: body.toString("utf8", head.end, Math.max(head.end, end)) };
    }
    at = next;
  }
  return null;
}

const HYPHEN = 0x2d;
const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
/** Headers of one part (Content-Disposition, Content-Type: a few hundred bytes in practice). */
const MAX_HEAD = 16 * 1024;
/** Parts read before the field (Go's ReadForm stops at 1000 too). */
const MAX_PARTS = 1000;
/** Longest field value taken (a model name is far shorter). */
const MAX_VALUE = 1024;

/** The boundary of a `multipart/form-data` Content-Type, or null when it is another type or has none. */
function boundaryOf(contentType: string | undefined): string | null {
  if (contentType === undefined) return null;
  const semi = contentType.indexOf(";");
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type !== "multipart/form-data" || semi === -1) return null;
  const boundary = params(contentType.slice(semi + 1)).get("boundary");
  // RFC 2046 §5.1.1: 1 to 70 characters, not ending in a space.
  if (boundary === undefined || boundary.length < 1 || boundary.length > 70 || boundary.endsWith(" "))
    return null;
  return boundary;
}

/** A delimiter line: where it starts, where the part after it starts, and whether it closes the form. */
interface Delimiter {
  readonly start: number;
  readonly next: number;
  readonly closing: boolean;
}

/**
 * The first delimiter line at or after `from`: `--boundary` at the start of the body or of a
 * line, then `--` (the close) or transport padding and the line's end. The same bytes followed
 * by anything else are content, as Go's reader takes them.
 */
function delimiterAt(body: Buffer, dash: Buffer, from: number): Delimiter | null {
  for (let i = from; ; ) {
    const found = body.indexOf(dash, i);
    if (found === -1) return null;
    i = found + 1;
    if (found > 0 && body[found - 1] !== LF) continue;
    let j = found + dash.length;
    if (body[j] === HYPHEN && body[j + 1] === HYPHEN) return { start: found, next: j + 2, closing: true };
    while (body[j] === SPACE || body[j] === TAB) j++;
    if (body[j] === CR) j++;
    if (body[j] === LF) return { start: found, next: j + 1, closing: false };
  }
}

/** What a part's headers say, and where its content starts. */
interface PartHead {
  /** The form field's name (Content-Disposition: form-data; name=...), or null. */
  readonly name: string | null;
  /** A `filename` parameter makes the part a file upload. */
  readonly file: boolean;
  /** Quoted-printable (which Go decodes): the value is not the raw bytes. */
  readonly encoded: boolean;
  readonly end: number;
}

/** Reads the headers that start at `start`, up to the blank line; null when they do not end within MAX_HEAD. */
function headOf(body: Buffer, start: number): PartHead | null {
  let name: string | null = null;
  let file = false;
  let encoded = false;
  let i = start;
  for (;;) {
    const nl = body.indexOf(LF, i);
    if (nl === -1 || nl - start > MAX_HEAD) return null;
    const line = body.toString("latin1", i, body[nl - 1] === CR ? nl - 1 : nl);
    i = nl + 1;
    if (line === "") return { name, file, encoded, end: i };
    const colon = line.indexOf(":");
    if (colon === -1) continue;
    const header = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1);
    if (header === "content-transfer-encoding") encoded = value.trim().toLowerCase() === "quoted-printable";
    if (header !== "content-disposition") continue;
    const semi = value.indexOf(";");
    const disposition = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
    const p = params(semi === -1 ? "" : value.slice(semi + 1));
    // Go's FormName: only a form-data disposition names a field.
    name = disposition === "form-data" ? (p.get("name") ?? null) : null;
    file = p.has("filename") || p.has("filename*");
  }
}

/** `; key=value; key="quoted \"value\""` parameters, keys in lower case (RFC 9110 §5.6.6). */
function params(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === ";" || text[i] === " " || text[i] === "\t")) i++;
    const eq = text.indexOf("=", i);
    if (eq === -1) break;
    const key = text.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let value = "";
    if (text[i] === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === "\\" && i + 1 < text.length) i++;
        value += text[i];
      }
      i++;
    } else {
      const semi = text.indexOf(";", i);
      const stop = semi === -1 ? text.length : semi;
      value = text.slice(i, stop).trim();
      i = stop;
    }
    if (!out.has(key)) out.set(key, value);
  }
  return out;
}
