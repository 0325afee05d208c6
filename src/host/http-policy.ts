/**
 * THE network decision for wasm plugins: may `fledge.http` send this request to this
 * destination? Every hop (the first URL and every redirect) passes
 * {@link checkHttpUrl}, and every connection passes {@link checkAddress} with the
 * address it will actually connect to, after DNS. Nothing else opens a socket for a
 * guest.
 *
 * How an attacker (the plugin, or a server it talks to) would get past a host list,
 * and the rule here that stops each:
 *   - a URL to a host not listed, or a redirect to one: each hop is checked again;
 *   - userinfo (`http://api.example.com@evil/`), other schemes (file:, ftp:, gopher:):
 *     refused outright;
 *   - other spellings of an address (2130706433, 0x7f.1, 0177.0.0.1, [::ffff:7f00:1]):
 *     the WHATWG parser canonicalises them, and only the canonical form is compared;
 *   - a listed public name that resolves to 127.0.0.1, 10.x, 169.254.169.254 or an
 *     IPv6 private range (DNS rebinding, a hostile resolver): the resolved address
 *     is checked, and the connection goes to exactly that address, so a second
 *     resolution cannot swap it. Loopback and private addresses are reachable only
 *     through an entry that names the address literally;
 *   - header injection (CRLF in a name or value), smuggling (Transfer-Encoding,
 *     Content-Length, Host, Connection): refused; fledge writes those itself.
 */
import { isIP } from "node:net";
import { parseHostEntry, type HostEntry } from "../manifest/index.ts";

export interface HttpTarget {
  url: URL;
  /** Hostname as the URL parser spells it (IPv6 in brackets). */
  host: string;
  /** Hostname to connect to: IPv6 without brackets. */
  connectHost: string;
  port: number;
  tls: boolean;
  entry: HostEntry;
}

/** A request or destination fledge refuses; the message is what the guest gets back. */
export class HttpRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HttpRefused";
  }
}

/** Which listed entry, if any, allows `url`; throws {@link HttpRefused} naming the problem. */
export function checkHttpUrl(text: string, hosts: readonly string[]): HttpTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new HttpRefused(`not a valid absolute URL: ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new HttpRefused(`scheme ${JSON.stringify(url.protocol)} is not allowed (only http: and https:)`);
  if (url.username !== "" || url.password !== "") throw new HttpRefused("a URL with a user name or password is not allowed (send credentials in a header)");
  const tls = url.protocol === "https:";
  const port = url.port === "" ? (tls ? 443 : 80) : Number(url.port);
  const host = url.hostname;
  const entry = hosts
    .map((h) => parseHostEntry(h))
    .find((e): e is HostEntry => typeof e !== "string" && e.host === host && (e.port === undefined ? port === (tls ? 443 : 80) : e.port === port));
  if (!entry) {
    const where = url.port === "" ? host : `${host}:${port}`;
    throw new HttpRefused(`host ${where} is not in the plugin's [capabilities] hosts${hosts.length > 0 ? ` (${hosts.join(", ")})` : " (none listed)"}`);
  }
  const connectHost = host.startsWith("[") ? host.slice(1, -1) : host;
  return { url, host, connectHost, port, tls, entry };
}

function v4Parts(a: string): number[] | undefined {
  if (isIP(a) !== 4) return undefined;
  return a.split(".").map(Number);
}

function v4Private(p: number[]): boolean {
  const [a = 0, b = 0, c = 0] = p;
  return (
    a === 0 || a === 10 || a === 127 || a >= 224 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) ||
    (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113)
  );
}

/** The 8 groups of an IPv6 address, or undefined. */
function v6Groups(a: string): number[] | undefined {
  if (isIP(a) !== 6) return undefined;
  let s = a.toLowerCase();
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const p = v4Parts(v4[1] ?? "") ?? [0, 0, 0, 0];
    s = `${s.slice(0, v4.index)}${((p[0] ?? 0) * 256 + (p[1] ?? 0)).toString(16)}:${((p[2] ?? 0) * 256 + (p[3] ?? 0)).toString(16)}`;
  }
  const [head = "", tail] = s.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill("0");
  const groups = [...h, ...fill, ...t].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * Loopback, private, link-local, carrier-grade NAT, multicast, reserved, documentation
 * and the IPv6 ranges that embed an IPv4 address (mapped, NAT64, 6to4: judged by the
 * embedded address). Anything unparseable counts as private.
 */
export function isPrivateAddress(address: string): boolean {
  const p4 = v4Parts(address);
  if (p4) return v4Private(p4);
  const g = v6Groups(address);
  if (!g) return true;
  const embedded = (hi: number, lo: number): number[] => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
  const first5Zero = g.slice(0, 5).every((x) => x === 0);
  if (first5Zero && g[5] === 0xffff) return v4Private(embedded(g[6] ?? 0, g[7] ?? 0)); // ::ffff:a.b.c.d
  if (g.slice(0, 6).every((x) => x === 0)) return true; // ::, ::1, deprecated IPv4-compatible
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4Private(embedded(g[6] ?? 0, g[7] ?? 0));
  if (g[0] === 0x2002) return v4Private(embedded(g[1] ?? 0, g[2] ?? 0));
  const top = g[0] ?? 0;
  if ((top & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
  if ((top & 0xffc0) === 0xfe80 || (top & 0xffc0) === 0xfec0) return true; // link-local, site-local
  if ((top & 0xff00) === 0xff00) return true; // multicast
  if (top === 0x2001 && g[1] === 0x0db8) return true; // documentation
  if (top === 0x0100 && g.slice(1, 4).every((x) => x === 0)) return true; // discard-only
  return false;
}

/**
 * May the connection for `target` go to `address` (what DNS answered, or the literal)?
 * A literal entry allows exactly its address; a name allows only public addresses.
 */
export function checkAddress(target: HttpTarget, address: string): void {
  if (target.entry.literal) {
    if (isIP(target.connectHost) === 0 || address !== target.connectHost) throw new HttpRefused(`connection to ${address} does not match the listed address ${target.entry.host}`);
    return;
  }
  if (isPrivateAddress(address)) {
    throw new HttpRefused(`host ${target.host} resolves to ${address}, a loopback, private or reserved address; list the address literally (like ${address.includes(":") ? `[${address}]` : address}:${target.port}) to allow it`);
  }
}

/** Headers fledge writes itself (framing, routing) or that only a proxy or a browser may set. */
const FORBIDDEN_HEADERS = new Set([
  "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer", "expect",
  "proxy-authorization", "proxy-authenticate", "proxy-connection",
]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible ASCII, space and tab; no CR, LF or NUL (a guest must not start a second header or request). */
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;
export const MAX_REQUEST_HEADERS = 64;
export const MAX_HEADER_BYTES = 16 * 1024;

/** The guest's headers as [name, value] pairs, or {@link HttpRefused} naming the first bad one. */
export function checkRequestHeaders(headers: unknown): [string, string][] {
  if (headers === undefined || headers === null) return [];
  if (typeof headers !== "object" || Array.isArray(headers)) throw new HttpRefused("`headers` must be an object of name: value strings");
  const out: [string, string][] = [];
  let bytes = 0;
  for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
    if (typeof value !== "string") throw new HttpRefused(`header ${JSON.stringify(name)} must have a string value`);
    if (!TOKEN.test(name)) throw new HttpRefused(`header name ${JSON.stringify(name)} is not a valid HTTP token`);
    if (!FIELD_VALUE.test(value)) throw new HttpRefused(`header ${JSON.stringify(name)} has a control character (CR, LF, NUL...) or non-ASCII text in its value`);
    if (FORBIDDEN_HEADERS.has(name.toLowerCase())) throw new HttpRefused(`header ${JSON.stringify(name)} is set by fledge and cannot be sent by a plugin`);
    bytes += name.length + value.length + 4;
    out.push([name, value]);
  }
  if (out.length > MAX_REQUEST_HEADERS) throw new HttpRefused(`${out.length} headers; at most ${MAX_REQUEST_HEADERS}`);
  if (bytes > MAX_HEADER_BYTES) throw new HttpRefused(`headers are ${bytes} bytes; at most ${MAX_HEADER_BYTES}`);
  return out;
}

export const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export function checkMethod(method: unknown): string {
  if (method === undefined) return "GET";
  if (typeof method !== "string" || !METHODS.has(method.toUpperCase())) throw new HttpRefused(`method must be one of ${[...METHODS].join(", ")}`);
  return method.toUpperCase();
}
