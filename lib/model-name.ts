/**
 * Normalises a model name the way Ollama resolves it, so that `llama3`, `Llama3` and
 * `llama3:latest` are one model: the tag defaults to `latest` (a `:` after the last `/`
 * is the tag; one before it is a registry port), and names compare case-insensitively.
 */
export function normalizeModel(name: string): string {
  const lower = name.trim().toLowerCase();
  const slash = lower.lastIndexOf("/");
  return lower.indexOf(":", slash + 1) === -1 ? `${lower}:latest` : lower;
}
