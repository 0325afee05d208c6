/**
 * `fledge.http`, attack first: each test is a way a plugin (or a server it talks to)
 * would try to reach somewhere its manifest does not list, or to hold fledge, or to
 * read fledge's credentials. Real loopback server in a child process, the real
 * blocking worker client, guest memory as a real WebAssembly.Memory.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { buildInit } from "../../src/host/messages.ts";
import { checkModuleImports, createFledgeImports, FledgeImportError, fledgeImportsFor } from "../../src/host/wasm-imports.ts";
import { httpFetch } from "../../src/host/http-client.ts";
import { checkAddress, checkHttpUrl, HttpRefused, isPrivateAddress } from "../../src/host/http-policy.ts";
import { parseHostEntry } from "../../src/manifest/hosts.ts";
import { NO_CAPABILITIES, type Capabilities } from "../../src/manifest/types.ts";
import { createGate, deadlineBudget, type HostBudget } from "../../src/wasi/index.ts";
import { WasiDeadlineExceeded } from "../../src/wasi/context.ts";
import { startHttpServer, type TestHttpServer } from "../helpers/http-server.ts";

let srv: TestHttpServer;
beforeAll(async () => {
  srv = await startHttpServer();
});
afterAll(() => srv.stop());

const enc = new TextEncoder();
const dec = new TextDecoder();
const REQ_AT = 1024;
const RESP_AT = 4 * 1024 * 1024;

function caps(hosts: string[], network = true): Capabilities {
  return { ...NO_CAPABILITIES, network, hosts };
}

interface Harness {
  call(req: unknown): Record<string, unknown>;
  raw(ptr: number, len: number): number | undefined;
  memory: WebAssembly.Memory;
}

function harness(capabilities: Capabilities, budget: HostBudget = deadlineBudget()): Harness {
  const memory = new WebAssembly.Memory({ initial: 512 }); // 32 MiB
  const gate = createGate(budget);
  const init = buildInit({ args: [], project: null, plugin: { name: "net", version: "1.0.0", dir: "/nonexistent" }, fledgeVersion: "0.1.0", capabilities });
  const f = createFledgeImports({ getMemory: () => memory, capabilities, dispatch: () => undefined, init, warn: () => {}, gate });
  const linked = gate.link({ fledge: f.imports }).fledge;
  const recv = linked.recv as (p: number, n: number) => number;
  recv(RESP_AT, 1 << 20); // the init message
  const http = linked.http as ((p: number, n: number) => number) | undefined;
  return {
    memory,
    raw: (ptr, len) => {
      if (!http) throw new Error("http is not linked");
      return http(ptr, len);
    },
    call(req) {
      if (!http) throw new Error("http is not linked");
      const bytes = enc.encode(typeof req === "string" ? req : JSON.stringify(req));
      new Uint8Array(memory.buffer).set(bytes, REQ_AT);
      const n = http(REQ_AT, bytes.length);
      const got = recv(RESP_AT, n);
      return JSON.parse(dec.decode(new Uint8Array(memory.buffer, RESP_AT, got))) as Record<string, unknown>;
    },
  };
}

describe("allowed: a listed host", () => {
  test("GET to a listed literal address and port answers status, headers and body", () => {
    const h = harness(caps([`127.0.0.1:${srv.port}`]));
    const r = h.call({ url: srv.url("/hello") });
    expect(r.status).toBe(200);
    expect(r.body).toBe("hello from loopback");
    expect((r.headers as Record<string, string>)["x-echo"]).toBe("yes");
  });

  test("POST sends the guest's body and headers; chunked and binary answers decode", () => {
    const h = harness(caps([`127.0.0.1:${srv.port}`]));
    const r = h.call({ method: "post", url: srv.url("/echo"), headers: { "X-Api-Key": "plugin-own-key", "Content-Type": "text/plain" }, body: "payload" });
    const echo = JSON.parse(String(r.body)) as { method: string; headers: Record<string, string>; body: string };
    expect(echo.method).toBe("POST");
    expect(echo.body).toBe("payload");
    expect(echo.headers["x-api-key"]).toBe("plugin-own-key");
    expect(h.call({ url: srv.url("/chunked") }).body).toBe("chunk one, chunk two");
    const bin = h.call({ url: srv.url("/binary") });
    expect(bin.body).toBeUndefined();
    expect(bin.body_base64).toBe(Buffer.from([0xff, 0xfe, 0, 1]).toString("base64"));
  });

  test("a redirect to a listed host is followed (303 turns POST into GET)", () => {
    const h = harness(caps([`127.0.0.1:${srv.port}`]));
    const r = h.call({ method: "POST", url: srv.url(`/see-other?to=${encodeURIComponent(srv.url("/echo"))}`), body: "x" });
    expect(r.status).toBe(200);
    expect((JSON.parse(String(r.body)) as { method: string }).method).toBe("GET");
    expect(r.url).toBe(srv.url("/echo"));
  });

  test("fledge's own credentials are never sent, so no response can carry them", () => {
    const secret = "ghp_fledgeHeldSecretToken0123456789";
    const saved = { a: process.env.GITHUB_TOKEN, b: process.env.FLEDGE_GITHUB_TOKEN, c: process.env.GH_TOKEN };
    process.env.GITHUB_TOKEN = secret;
    process.env.FLEDGE_GITHUB_TOKEN = secret;
    process.env.GH_TOKEN = secret;
    try {
      const h = harness(caps([`127.0.0.1:${srv.port}`]));
      const r = h.call({ url: srv.url("/echo") });
      expect(JSON.stringify(r)).not.toContain(secret);
      const echo = JSON.parse(String(r.body)) as { raw: string[] };
      expect(echo.raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()).sort()).toEqual(["accept-encoding", "connection", "host", "user-agent"]);
    } finally {
      for (const [k, v] of [["GITHUB_TOKEN", saved.a], ["FLEDGE_GITHUB_TOKEN", saved.b], ["GH_TOKEN", saved.c]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe("refused: destinations the manifest does not list", () => {
  test("a host or port not in the list", () => {
    const h = harness(caps(["api.example.com", "127.0.0.1:1"]));
    for (const url of [srv.url("/hello"), "http://api.example.com:8080/", "https://127.0.0.1/", "http://127.0.0.1:2/"]) {
      const r = h.call({ url });
      expect(r.refused).toBe(true);
      expect(String(r.error)).toContain("not in the plugin's [capabilities] hosts");
    }
  });

  test("a redirect to an unlisted host is refused at that hop", () => {
    const h = harness(caps([`127.0.0.1:${srv.port}`]));
    for (const to of [`http://127.0.0.2:${srv.port}/hello`, `http://localhost:${srv.port}/hello`, "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"]) {
      const r = h.call({ url: srv.url(`/redirect?to=${encodeURIComponent(to)}`) });
      expect(r.refused).toBe(true);
      expect(r.status).toBeUndefined();
    }
  });

  test("a listed NAME that resolves to loopback or a private address is refused (literal addresses only)", async () => {
    const h = harness(caps([`localhost:${srv.port}`]));
    const r = h.call({ url: `http://localhost:${srv.port}/hello` });
    expect(r.refused).toBe(true);
    expect(String(r.error)).toMatch(/resolves to .*loopback, private or reserved/);
    for (const answer of [["10.1.2.3"], ["::ffff:127.0.0.1"], ["169.254.169.254"], ["fd00::1"], ["64:ff9b::7f00:1"], ["2002:7f00:1::"]]) {
      const out = await httpFetch({ method: "GET", url: "http://api.example.com/", headers: [], body: new Uint8Array(0) }, ["api.example.com"], undefined, async () => answer);
      expect(out.ok).toBe(false);
      if (!out.ok) expect(out.refused).toBe(true);
    }
  });

  test("user info and non-http schemes", () => {
    const h = harness(caps([`127.0.0.1:${srv.port}`]));
    for (const url of [`http://user:pw@127.0.0.1:${srv.port}/hello`, `http://127.0.0.1:${srv.port}@evil.example/`, "file:///etc/passwd", `ftp://127.0.0.1:${srv.port}/`, "data:text/plain,hi", `ws://127.0.0.1:${srv.port}/`, "gopher://127.0.0.1/", "not a url"]) {
      expect(h.call({ url }).refused).toBe(true);
    }
  });

  test("other spellings of loopback do not match a public name, and are not accepted as entries", () => {
    const h = harness(caps(["api.example.com"]));
    for (const host of ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "[::1]", "[::ffff:127.0.0.1]", "[0:0:0:0:0:0:0:1]"]) {
      expect(h.call({ url: `http://${host}:${srv.port}/hello` }).refused).toBe(true);
    }
    for (const entry of ["0x7f.1", "2130706433", "127.1", "0177.0.0.1", "http://api.example.com", "api.example.com/path", "user@host", "*.example.com", "::1", "host:0", "host:70000"]) {
      expect(typeof parseHostEntry(entry)).toBe("string");
    }
    expect(parseHostEntry("[0:0:0:0:0:0:0:1]:8080")).toEqual({ host: "[::1]", port: 8080, literal: true });
    expect(parseHostEntry("API.Example.com")).toEqual({ host: "api.example.com", port: undefined, literal: false });
    expect(parseHostEntry("10.0.0.1:443")).toEqual({ host: "10.0.0.1", port: 443, literal: true });
    // The canonical spelling of a listed literal is the same destination.
    const lit = harness(caps([`127.0.0.1:${srv.port}`]));
    expect(lit.call({ url: `http://2130706433:${srv.port}/hello` }).status).toBe(200);
  });

  test("address classification", () => {
    for (const a of ["127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "::ffff:10.0.0.1", "ff02::1", "garbage"]) {
      expect(isPrivateAddress(a)).toBe(true);
    }
    for (const a of ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"]) expect(isPrivateAddress(a)).toBe(false);
    const named = checkHttpUrl("https://api.example.com/x", ["api.example.com"]);
    expect(() => checkAddress(named, "93.184.216.34")).not.toThrow();
    expect(() => checkAddress(named, "127.0.0.1")).toThrow(HttpRefused);
  });
});

describe("refused: hostile requests", () => {
  test("header injection and framing headers", () => {
    const h = harness(caps([`127.0.0.1:${srv.port}`]));
    const bad: Record<string, string>[] = [
      { "X-A": "v\r\nX-Injected: 1" },
      { "X-A": "v\nGET / HTTP/1.1" },
      { "X-A\r\nX-B": "v" },
      { "Bad Name": "v" },
      { Host: "evil.example" },
      { "Transfer-Encoding": "chunked" },
      { "Content-Length": "0" },
      { Connection: "keep-alive" },
      { "Proxy-Authorization": "Basic x" },
      { "X-A": "caf\u00e9" },
    ];
    for (const headers of bad) {
      const r = h.call({ url: srv.url("/echo"), headers });
      expect(r.refused).toBe(true);
    }
    expect(h.call({ method: "CONNECT", url: srv.url("/echo") }).refused).toBe(true);
  });

  test("a huge response is cut at the size cap", () => {
    const h = harness(caps([`127.0.0.1:${srv.port}`]));
    const r = h.call({ url: srv.url(`/big?n=${9 * 1024 * 1024}`) });
    expect(String(r.error)).toContain("exceeds");
    expect(h.call({ url: srv.url("/big?n=1000") }).body).toBe("a".repeat(1000));
  });

  test("a slow or silent server: the call gives up at its own timeout", () => {
    const h = harness(caps([`127.0.0.1:${srv.port}`]));
    for (const path of ["/slow", "/silent"]) {
      const r = h.call({ url: srv.url(path), timeout: 0.5 });
      expect(String(r.error)).toContain("time limit");
    }
  });

  test("a slow server cannot hold the run past its deadline: the run stops", () => {
    const h = harness(caps([`127.0.0.1:${srv.port}`]), deadlineBudget(performance.now() + 700));
    let thrown: unknown;
    try {
      h.call({ url: srv.url("/silent"), timeout: 60 });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(WasiDeadlineExceeded);
  });

  test("bytes are charged to the run's meter", () => {
    let units = 0;
    const budget: HostBudget = { hostCall: (u = 0) => void (units += u), stop: () => { throw new WasiDeadlineExceeded(); }, timeLeft: () => Infinity, stopped: false };
    const h = harness(caps([`127.0.0.1:${srv.port}`]), budget);
    const before = units;
    h.call({ url: srv.url(`/big?n=${2 * 1024 * 1024}`) });
    expect(units - before).toBeGreaterThan(2 * 1024 * 1024); // 1024 units per KiB of body
  });

  test("guest pointers out of bounds and malformed requests end the run naming http", () => {
    const h = harness(caps([`127.0.0.1:${srv.port}`]));
    const size = h.memory.buffer.byteLength;
    for (const [p, n] of [[-1, 10], [size - 4, 100], [0, -5], [0, 13 * 1024 * 1024]] as const) {
      expect(() => h.raw(p, n)).toThrow(FledgeImportError);
    }
    expect(() => h.call("{not json")).toThrow(/^http: /);
    expect(() => h.call({ url: 5 })).toThrow(/^http: /);
    expect(() => h.call([1])).toThrow(/^http: /);
  });
});

describe("linking: only with the network grant", () => {
  /** A module that imports fledge.http (i32, i32) -> i32 and nothing else. */
  function importsHttp(): WebAssembly.Module {
    const name = (s: string): number[] => [s.length, ...enc.encode(s)];
    const typeSec = [0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f];
    const imp = [0x01, ...name("fledge"), ...name("http"), 0x00, 0x00];
    const importSec = [0x02, imp.length, ...imp];
    return new WebAssembly.Module(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...typeSec, ...importSec]));
  }

  test("http is linked for network = true and not otherwise", () => {
    expect(fledgeImportsFor(caps(["a.example"])).has("http")).toBe(true);
    expect(fledgeImportsFor({ ...NO_CAPABILITIES, exec: true, store: true, metadata: true }).has("http")).toBe(false);
    expect(() => checkModuleImports(WebAssembly.Module.imports(importsHttp()), NO_CAPABILITIES)).toThrow(/capabilities not granted: network/);
    expect(() => checkModuleImports(WebAssembly.Module.imports(importsHttp()), caps([]))).not.toThrow();
  });

  test("network granted but no hosts listed: every call is refused", () => {
    const h = harness(caps([]));
    const r = h.call({ url: srv.url("/hello") });
    expect(r.refused).toBe(true);
    expect(String(r.error)).toContain("none listed");
  });
});

describe("https", () => {
  const HAVE_OPENSSL = Bun.which("openssl") !== null;
  test.skipIf(!HAVE_OPENSSL)("a certificate that does not verify is refused (no silent fallback to an unchecked connection)", async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "fledge-tls-"));
    const gen = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem"), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stderr: "pipe" });
    expect(gen.exitCode).toBe(0);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const server = Bun.spawn(["openssl", "s_server", "-accept", String(port), "-cert", join(dir, "c.pem"), "-key", join(dir, "k.pem"), "-www", "-quiet"], { stdout: "ignore", stderr: "ignore" });
    try {
      // Wait until the server accepts connections (under load it can take a while).
      for (let i = 0; i < 200; i++) {
        const up = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then((sock) => (sock.end(), true), () => false);
        if (up) break;
        await Bun.sleep(50);
      }
      const h = harness(caps([`127.0.0.1:${port}`]));
      const r = h.call({ url: `https://127.0.0.1:${port}/`, timeout: 10 });
      expect(r.status).toBeUndefined();
      expect(String(r.error)).toMatch(/SELF_SIGNED|certificate/i);
    } finally {
      server.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
