/**
 * The HTTP/1.1 client behind `fledge.http`. It is written on plain sockets on purpose:
 * a library client resolves names itself (so the address checked is not the address
 * used), follows redirects on its own, honours proxy variables from the environment
 * and may add credentials. Here every hop is checked by ./http-policy.ts, the socket
 * goes to exactly the address that was checked, redirects are followed by hand (at
 * most {@link HttpLimits.maxRedirects}), and nothing is sent but the method, path,
 * Host, a fixed User-Agent, the guest's checked headers and its body: fledge's own
 * credentials (a GitHub token in the environment, git credentials) are never sent,
 * so no server can echo them back.
 *
 * Limits: the response head (status line and headers) at most 64 KiB, the body at
 * most `maxResponseBytes`, and the whole exchange, redirects included, within
 * `timeoutMs`; past any of them the socket is destroyed and the call fails.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { connect as netConnect, isIP, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { checkAddress, checkHttpUrl, HttpRefused, type HttpTarget } from "./http-policy.ts";

export interface HttpRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body: Uint8Array;
}

export interface HttpLimits {
  maxResponseBytes: number;
  maxRedirects: number;
  timeoutMs: number;
}

export const HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({ maxResponseBytes: 8 * 1024 * 1024, maxRedirects: 5, timeoutMs: 30_000 });
export const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;

export type HttpOutcome =
  | { ok: true; status: number; headers: Record<string, string>; body: Uint8Array; url: string }
  | { ok: false; error: string; refused: boolean };

/** Resolves a name to its addresses (tests may pass a fake resolver). */
export type Resolver = (name: string) => Promise<string[]>;

const systemResolver: Resolver = async (name) => (await dnsLookup(name, { all: true, verbatim: true })).map((a) => a.address);

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = new Set(["authorization", "cookie"]);

class HttpFailed extends Error {}

/** Pick the address to connect to: the literal, or the first resolved address the policy allows. */
async function addressFor(target: HttpTarget, resolve: Resolver): Promise<string> {
  if (isIP(target.connectHost) !== 0) {
    checkAddress(target, target.connectHost);
    return target.connectHost;
  }
  let addresses: string[];
  try {
    addresses = await resolve(target.connectHost);
  } catch (e) {
    throw new HttpFailed(`cannot resolve ${target.host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let first: unknown;
  for (const a of addresses) {
    try {
      checkAddress(target, a);
      return a;
    } catch (e) {
      first ??= e;
    }
  }
  throw first ?? new HttpFailed(`cannot resolve ${target.host}: no address`);
}

function requestHead(target: HttpTarget, req: HttpRequest): string {
  const path = `${target.url.pathname}${target.url.search}`;
  const lines = [`${req.method} ${path === "" ? "/" : path} HTTP/1.1`, `Host: ${target.url.host}`, "User-Agent: fledge-plugin", "Accept-Encoding: identity", "Connection: close"];
  for (const [n, v] of req.headers) lines.push(`${n}: ${v}`);
  if (req.body.length > 0 || ["POST", "PUT", "PATCH"].includes(req.method)) lines.push(`Content-Length: ${req.body.length}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

const latin1 = new TextDecoder("latin1");

function indexOfCrlf2(buf: Uint8Array, from = 0): number {
  for (let i = from; i + 3 < buf.length; i++) if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  return -1;
}

function indexOfCrlf(buf: Uint8Array, from: number): number {
  for (let i = from; i + 1 < buf.length; i++) if (buf[i] === 13 && buf[i + 1] === 10) return i;
  return -1;
}

/**
 * Try to parse a complete response from `buf`. undefined: need more bytes (or, with
 * `ended`, the body runs to the end of the stream). Throws HttpFailed on malformed
 * or oversized input.
 */
function parseResponse(buf: Uint8Array, method: string, maxBody: number, ended: boolean): Parsed | undefined {
  let start = 0;
  for (;;) {
    const end = indexOfCrlf2(buf, start);
    if (end < 0) {
      if (buf.length - start > MAX_RESPONSE_HEAD_BYTES) throw new HttpFailed(`response headers exceed ${MAX_RESPONSE_HEAD_BYTES} bytes`);
      if (ended) throw new HttpFailed("connection closed before a complete response");
      return undefined;
    }
    if (end - start > MAX_RESPONSE_HEAD_BYTES) throw new HttpFailed(`response headers exceed ${MAX_RESPONSE_HEAD_BYTES} bytes`);
    const lines = latin1.decode(buf.subarray(start, end)).split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? "");
    if (!m) throw new HttpFailed("malformed response status line");
    const status = Number(m[1]);
    const headers: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new HttpFailed("malformed response header line");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const bodyStart = end + 4;
    if (status >= 100 && status < 200) {
      start = bodyStart; // 100 Continue and friends: the real response follows
      continue;
    }
    if (method === "HEAD" || status === 204 || status === 304) return { status, headers, body: new Uint8Array(0) };
    const rest = buf.subarray(bodyStart);
    if ((headers["transfer-encoding"] ?? "").toLowerCase().includes("chunked")) {
      const chunks: Uint8Array[] = [];
      let total = 0;
      let pos = 0;
      for (;;) {
        const lineEnd = indexOfCrlf(rest, pos);
        if (lineEnd < 0) return ended ? fail("connection closed inside a chunked body") : undefined;
        const size = parseInt(latin1.decode(rest.subarray(pos, lineEnd)).split(";")[0]?.trim() ?? "", 16);
        if (!Number.isInteger(size) || size < 0) throw new HttpFailed("malformed chunk size");
        if (total + size > maxBody) throw new HttpFailed(`response body exceeds ${maxBody} bytes`);
        if (size === 0) return { status, headers, body: concat(chunks, total) };
        if (rest.length < lineEnd + 2 + size + 2) return ended ? fail("connection closed inside a chunked body") : undefined;
        chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
        total += size;
        pos = lineEnd + 2 + size + 2;
      }
    }
    const cl = headers["content-length"];
    if (cl !== undefined) {
      if (!/^\d+$/.test(cl)) throw new HttpFailed("malformed Content-Length");
      const n = Number(cl);
      if (n > maxBody) throw new HttpFailed(`response body exceeds ${maxBody} bytes`);
      if (rest.length >= n) return { status, headers, body: rest.slice(0, n) };
      return ended ? fail("connection closed before the whole body arrived") : undefined;
    }
    if (rest.length > maxBody) throw new HttpFailed(`response body exceeds ${maxBody} bytes`);
    return ended ? { status, headers, body: rest.slice() } : undefined;
  }
}

function fail(message: string): never {
  throw new HttpFailed(message);
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One request/response on a fresh connection to `address`. */
function exchange(target: HttpTarget, address: string, req: HttpRequest, maxBody: number, deadline: number): Promise<Parsed> {
  return new Promise((resolve, reject) => {
    let socket: Socket;
    const servername = isIP(target.connectHost) === 0 ? target.connectHost : undefined;
    try {
      socket = target.tls ? tlsConnect({ host: address, port: target.port, ...(servername ? { servername } : {}) }) : netConnect({ host: address, port: target.port });
    } catch (e) {
      reject(new HttpFailed(`cannot connect to ${target.host}: ${(e as Error).message}`));
      return;
    }
    let store = new Uint8Array(0);
    let used = 0;
    let buf = store.subarray(0, 0);
    let done = false;
    const finish = (err: Error | undefined, value?: Parsed): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value as Parsed);
    };
    const timer = setTimeout(() => finish(new HttpFailed(`no complete response from ${target.host} before the time limit`)), Math.max(0, deadline - Date.now()));
    const cap = maxBody + MAX_RESPONSE_HEAD_BYTES * 2 + 64 * 1024;
    const step = (ended: boolean): void => {
      try {
        const r = parseResponse(buf, req.method, maxBody, ended);
        if (r) finish(undefined, r);
        else if (ended) finish(new HttpFailed("connection closed before a complete response"));
      } catch (e) {
        finish(e as Error);
      }
    };
    // A TLS socket may be written only once the handshake (and certificate check) is done.
    socket.on(target.tls ? "secureConnect" : "connect", () => {
      socket.write(requestHead(target, req));
      if (req.body.length > 0) socket.write(req.body);
    });
    socket.on("data", (chunk: Buffer) => {
      if (done) return;
      if (used + chunk.length > cap) {
        finish(new HttpFailed(`response body exceeds ${maxBody} bytes`));
        return;
      }
      // Grown by doubling, so a large body is copied O(n) times in all, not once per chunk.
      if (used + chunk.length > store.length) {
        const next = new Uint8Array(Math.min(cap, Math.max(store.length * 2, used + chunk.length, 64 * 1024)));
        next.set(store.subarray(0, used));
        store = next;
      }
      store.set(chunk, used);
      used += chunk.length;
      buf = store.subarray(0, used);
      step(false);
    });
    socket.on("end", () => step(true));
    socket.on("close", () => step(true));
    socket.on("error", (e: NodeJS.ErrnoException) => finish(new HttpFailed(`connection to ${target.host} failed: ${e.code ?? e.message}`)));
  });
}

/** Send `req`, following redirects by hand; every hop is checked against `hosts`. Never throws. */
export async function httpFetch(req: HttpRequest, hosts: readonly string[], limits: HttpLimits = HTTP_LIMITS, resolve: Resolver = systemResolver): Promise<HttpOutcome> {
  const deadline = Date.now() + limits.timeoutMs;
  let current = req;
  try {
    for (let hop = 0; ; hop++) {
      const target = checkHttpUrl(current.url, hosts);
      const address = await addressFor(target, resolve);
      if (Date.now() >= deadline) throw new HttpFailed("no complete response before the time limit");
      const r = await exchange(target, address, current, limits.maxResponseBytes, deadline);
      const location = r.headers.location;
      if (!REDIRECTS.has(r.status) || location === undefined) {
        return { ok: true, status: r.status, headers: { ...r.headers }, body: r.body, url: target.url.href };
      }
      if (hop >= limits.maxRedirects) throw new HttpFailed(`more than ${limits.maxRedirects} redirects`);
      let next: URL;
      try {
        next = new URL(location, target.url);
      } catch {
        throw new HttpFailed("redirect with an invalid Location");
      }
      const toGet = r.status === 303 || ((r.status === 301 || r.status === 302) && current.method === "POST");
      // The guest's own credentials go only to the origin it addressed them to.
      const sameOrigin = next.origin === target.url.origin;
      current = {
        method: toGet && current.method !== "HEAD" ? "GET" : current.method,
        url: next.href,
        headers: current.headers.filter(([n]) => sameOrigin || !CREDENTIAL_HEADERS.has(n.toLowerCase())),
        body: toGet ? new Uint8Array(0) : current.body,
      };
    }
  } catch (e) {
    if (e instanceof HttpRefused) return { ok: false, error: `refused: ${e.message}`, refused: true };
    if (e instanceof HttpFailed) return { ok: false, error: e.message, refused: false };
    return { ok: false, error: `request failed: ${(e as Error).message}`, refused: false };
  }
}
