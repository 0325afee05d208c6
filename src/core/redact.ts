/**
 * Secrets in URLs: a signed download URL carries its signature in the query
 * (`X-Amz-Signature=...`, a bearer token), and a URL may carry `user:password@`. Every
 * FledgeError's message and hint go through `redactUrls` (errors.ts), so no error can
 * print them, whichever layer built it.
 */
/**
 * The one place that decides how a URL appears in a message: scheme, host, port and
 * path only. Userinfo (user:password@), the query (signatures, tokens) and the fragment
 * are dropped. Text that does not parse as a URL loses anything that looks like them.
 */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.protocol === "file:") return `file://${u.pathname}`;
    const query = u.search ? "?…" : "";
    return `${u.protocol}//${u.host}${u.pathname}${query}`;
  } catch {
    return raw.replace(/\/\/[^/@\s]*@/g, "//").replace(/[?#].*$/s, (q) => (q ? "?…" : ""));
  }
}

/** Every URL inside a message (an error from fetch or git, say), redacted. */
export function redactUrls(text: string): string {
  return text.replace(/\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s'"<>`]+/g, (m) => {
    const trail = /[).,;:]+$/.exec(m)?.[0] ?? "";
    return redactUrl(m.slice(0, m.length - trail.length)) + trail;
  });
}
