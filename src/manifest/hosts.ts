/**
 * `[capabilities] hosts`: the network destinations a wasm plugin's `fledge.http` may
 * reach. One entry is `host` or `host:port`:
 *
 *   - host: a DNS name (letters, digits, '-', dots; compared lowercase), a dotted IPv4
 *     address (four decimal parts, no leading zeros) or a bracketed IPv6 address;
 *   - port: 1..65535. Without a port an entry allows the scheme's default port only
 *     (80 for http, 443 for https), so `api.example.com` never opens other services
 *     on that machine.
 *
 * Loopback and private addresses are reachable only through an entry that names the
 * address literally (`127.0.0.1:8080`); a DNS name that resolves to one is refused
 * at connect time (src/host/http-policy.ts). So the syntax here stays strict and
 * canonical: one spelling per destination, the one the URL parser also produces.
 */

export interface HostEntry {
  /** Lowercase DNS name, dotted IPv4, or bracketed IPv6 (`[::1]`), as the WHATWG URL parser spells hostnames. */
  host: string;
  /** undefined: the scheme's default port only. */
  port: number | undefined;
  /** The host is an IP address written literally (so private and loopback are allowed). */
  literal: boolean;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** At most this many entries: a list longer than this is not a list a user can review. */
export const MAX_HOSTS = 64;

/** Canonical spelling of a bracketed IPv6 literal, or undefined when it is not one. */
function canonicalIpv6(bracketed: string): string | undefined {
  try {
    const h = new URL(`http://${bracketed}/`).hostname;
    return h.startsWith("[") ? h : undefined;
  } catch {
    return undefined;
  }
}

/** Parse one entry; a string result is the problem, in words an author can act on. */
export function parseHostEntry(text: string): HostEntry | string {
  const s = text.trim().toLowerCase();
  if (s === "") return "is empty";
  if (/[/?#@\s\\*]/.test(s) || s.includes("://")) return "must be host or host:port only (no scheme, path, user, wildcard or spaces), like \"api.example.com\" or \"127.0.0.1:8080\"";
  let hostPart = s;
  let portText: string | undefined;
  if (s.startsWith("[")) {
    const end = s.indexOf("]");
    if (end < 0) return "has an unclosed '[' (write an IPv6 address as [::1] or [::1]:8080)";
    hostPart = s.slice(0, end + 1);
    const rest = s.slice(end + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return "has text after the IPv6 address (write [addr]:port)";
      portText = rest.slice(1);
    }
  } else {
    const colon = s.lastIndexOf(":");
    if (colon >= 0) {
      if (s.indexOf(":") !== colon) return "looks like an IPv6 address: write it in brackets, like [::1]:8080";
      hostPart = s.slice(0, colon);
      portText = s.slice(colon + 1);
    }
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^[1-9]\d{0,4}$/.test(portText) || Number(portText) > 65535) return "has a port that is not a number from 1 to 65535";
    port = Number(portText);
  }
  if (hostPart.startsWith("[")) {
    const canon = canonicalIpv6(hostPart);
    if (canon === undefined) return "is not a valid IPv6 address";
    return { host: canon, port, literal: true };
  }
  if (IPV4.test(hostPart)) return { host: hostPart, port, literal: true };
  const labels = hostPart.split(".");
  if (hostPart.length > 253 || !labels.every((l) => LABEL.test(l))) return "is not a valid host name (letters, digits, '-' and dots) or IPv4 address";
  // A name whose last label is numeric is an IPv4 address to the URL parser
  // (0x7f.1, 2130706433, 127.1): only the dotted four-part form is accepted.
  if (/^(\d+|0x[0-9a-f]*)$/.test(labels[labels.length - 1] ?? "")) return "is an IP address in a non-standard form: write IPv4 as four decimal parts, like 127.0.0.1";
  return { host: hostPart, port, literal: false };
}

/** The canonical text of an entry (what the registry records and consent shows). */
export function formatHostEntry(e: HostEntry): string {
  return e.port === undefined ? e.host : `${e.host}:${e.port}`;
}
