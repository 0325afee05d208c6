import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { dispatchMessageSync, type HostContext } from "../../src/host/dispatcher.ts";
import { buildInit, type InitMessage } from "../../src/host/messages.ts";
import {
  checkModuleImports,
  createFledgeImports,
  FledgeImportError,
  fledgeImportsFor,
  MAX_GUEST_MESSAGE_BYTES, IMPORT_MAX_BYTES,
} from "../../src/host/wasm-imports.ts";
import { NO_CAPABILITIES, type Capabilities } from "../../src/manifest/types.ts";
import { WasiExit } from "../../src/wasi/index.ts";
import { ROOT, tempDir } from "../helpers/cli.ts";
import { captureConsole, type Captured } from "./capture.ts";

const FIXTURES = join(ROOT, "tests", "fixtures", "host");
const ALL: Capabilities = { exec: true, store: true, metadata: true, filesystem: "none", network: false };
const enc = new TextEncoder();
const dec = new TextDecoder();

function load(name: string): WebAssembly.Module {
  return new WebAssembly.Module(readFileSync(join(FIXTURES, `${name}.wasm`)));
}

/** Every WASI function answers ENOSYS (52): these guests only exercise `fledge`. */
const stubWasi = new Proxy({}, { get: () => () => 52 });

let dir: { path: string; cleanup: () => void };
let base: string;
beforeAll(() => {
  dir = tempDir("fledge-wasm-imports-");
  base = realpathSync(dir.path);
  mkdirSync(join(base, "project"));
  mkdirSync(join(base, "plugin"));
});
afterAll(() => dir.cleanup());

interface Guest {
  exports: Record<string, (...a: number[]) => number | undefined>;
  mem: () => Uint8Array;
  /** Put bytes in guest memory at `at`; returns [ptr, len]. */
  put: (data: string | Uint8Array, at?: number) => [number, number];
  io: Captured;
  init: InitMessage;
  pendingBytes: () => number;
}

function instantiate(name: string, capabilities: Capabilities): Guest {
  const module = load(name);
  checkModuleImports(WebAssembly.Module.imports(module), capabilities);
  const { io, con } = captureConsole("wasmy");
  const ctx: HostContext = {
    plugin: { name: "wasmy", dir: join(base, "plugin") },
    stateFile: join(base, "plugin", "state.json"),
    projectRoot: join(base, "project"),
    capabilities,
    console: con,
    env: { LANG: "C", SECRET_TOKEN: "x" },
  };
  const init = buildInit({ args: ["x"], project: null, plugin: { name: "wasmy", version: "1.0.0", dir: ctx.plugin.dir }, fledgeVersion: "0.1.0", capabilities });
  let memory: WebAssembly.Memory | undefined;
  const fledge = createFledgeImports({
    getMemory: () => memory,
    capabilities,
    dispatch: (m) => dispatchMessageSync(m, ctx),
    init,
    warn: (t) => con.warn(t),
  });
  const instance = new WebAssembly.Instance(module, { fledge: fledge.imports, wasi_snapshot_preview1: stubWasi });
  memory = instance.exports.memory as WebAssembly.Memory;
  const mem = () => new Uint8Array((memory as WebAssembly.Memory).buffer);
  const put = (data: string | Uint8Array, at = 4096): [number, number] => {
    const bytes = typeof data === "string" ? enc.encode(data) : data;
    mem().set(bytes, at);
    return [at, bytes.length];
  };
  return { exports: instance.exports as Guest["exports"], mem, put, io, init, pendingBytes: fledge.pendingBytes };
}

function importError(fn: () => unknown): FledgeImportError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FledgeImportError) return e;
    throw e;
  }
  throw new Error("expected a FledgeImportError");
}

describe("linking (only granted fledge imports are linked)", () => {
  test("only granted capability functions are linked", () => {
    expect([...fledgeImportsFor(NO_CAPABILITIES)].sort()).toEqual(["exit", "recv", "send"]);
    expect([...fledgeImportsFor({ ...NO_CAPABILITIES, store: true })].sort()).toEqual(["exit", "recv", "send", "store_get", "store_set"]);
    expect([...fledgeImportsFor(ALL)].sort()).toEqual(["exec", "exit", "metadata", "recv", "send", "store_get", "store_set"]);
  });

  test("a module importing ungranted functions is refused before it runs, naming the capabilities", () => {
    let err: Error | undefined;
    try {
      checkModuleImports(WebAssembly.Module.imports(load("guest-all")), { ...NO_CAPABILITIES, store: true });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toBe("WASM plugin imports functions that require capabilities not granted: exec, metadata");
    expect((err as { hint?: string }).hint).toContain("`exec = true`, `metadata = true` to [capabilities]");
  });

  test("a minimal module passes with no capabilities; unknown fledge imports are refused", () => {
    expect(() => checkModuleImports(WebAssembly.Module.imports(load("guest-minimal")), NO_CAPABILITIES)).not.toThrow();
    expect(() => checkModuleImports(WebAssembly.Module.imports(load("guest-unknown")), ALL)).toThrow("unknown fledge functions: teleport");
  });

  test("without the check, instantiation itself fails: ungranted functions are simply absent", () => {
    const fledge = createFledgeImports({ getMemory: () => undefined, capabilities: NO_CAPABILITIES, dispatch: () => undefined, init: {} as InitMessage, warn: () => {} });
    expect(Object.keys(fledge.imports).sort()).toEqual(["exit", "recv", "send"]);
    expect(() => new WebAssembly.Instance(load("guest-all"), { fledge: fledge.imports, wasi_snapshot_preview1: stubWasi })).toThrow();
  });
});

describe("send / recv / exit", () => {
  test("_start: recv gets init, send prints output, exit(0) ends the run", () => {
    const g = instantiate("guest-all", ALL);
    let code: number | undefined;
    try {
      g.exports._start?.();
    } catch (e) {
      if (e instanceof WasiExit) code = e.code;
      else throw e;
    }
    expect(code).toBe(0);
    const initBytes = enc.encode(JSON.stringify(g.init));
    expect(dec.decode(g.mem().slice(1024, 1024 + initBytes.length))).toBe(JSON.stringify(g.init));
    expect(g.io.out.join("")).toBe("hello from wasm\n");
  });

  test("recv: a remainder longer than max_len stays pending for the next call", () => {
    const g = instantiate("guest-minimal", NO_CAPABILITIES);
    const whole = JSON.stringify(g.init);
    const recv = g.exports.call_recv as (p: number, m: number) => number;
    expect(recv(100, 10)).toBe(10);
    expect(dec.decode(g.mem().slice(100, 110))).toBe(whole.slice(0, 10));
    expect(g.pendingBytes()).toBe(whole.length - 10);
    const rest = recv(200, 100_000);
    expect(rest).toBe(whole.length - 10);
    expect(dec.decode(g.mem().slice(200, 200 + rest))).toBe(whole.slice(10));
    expect(recv(300, 100)).toBe(0);
  });

  test("recv with max_len 0 copies nothing and keeps everything pending", () => {
    const g = instantiate("guest-minimal", NO_CAPABILITIES);
    expect((g.exports.call_recv as (p: number, m: number) => number)(0, 0)).toBe(0);
    expect(g.pendingBytes()).toBe(JSON.stringify(g.init).length);
  });

  test("exit(n) throws the WASI exit sentinel with n", () => {
    const g = instantiate("guest-all", ALL);
    expect(() => g.exports.call_exit?.(42)).toThrow(WasiExit);
    try {
      g.exports.call_exit?.(7);
    } catch (e) {
      expect((e as WasiExit).code).toBe(7);
    }
  });

  test("a prompt sent through send is answered into the pending slot", () => {
    const g = instantiate("guest-all", ALL);
    (g.exports.call_recv as (p: number, m: number) => number)(0, 1 << 16); // drain init
    g.exports.call_send?.(...g.put('{"type":"confirm","id":"c1","message":"Go?","default":true}'));
    const n = (g.exports.call_recv as (p: number, m: number) => number)(8192, 4096);
    expect(JSON.parse(dec.decode(g.mem().slice(8192, 8192 + n)))).toEqual({ type: "response", id: "c1", value: true });
  });

  test("send: malformed and unknown messages are warned about and skipped", () => {
    const g = instantiate("guest-all", ALL);
    g.exports.call_send?.(...g.put("{nope"));
    g.exports.call_send?.(...g.put('{"type":"teleport"}'));
    g.exports.call_send?.(...g.put('{"type":"output","text":"still here"}'));
    const err = g.io.err.join("");
    expect(err).toContain("[wasmy] send: malformed JSON");
    expect(err).toContain('[wasmy] send: unknown message type "teleport" (message skipped)');
    expect(g.io.out.join("")).toBe("still here");
  });
});

describe("capability imports", () => {
  test("exec: result JSON becomes pending, its length returned", () => {
    const g = instantiate("guest-all", ALL);
    const n = g.exports.call_exec?.(...g.put('{"command":"echo from-exec; exit 3"}')) as number;
    const r = (g.exports.call_recv as (p: number, m: number) => number)(8192, n);
    expect(r).toBe(n);
    expect(JSON.parse(dec.decode(g.mem().slice(8192, 8192 + n)))).toEqual({ code: 3, stdout: "from-exec\n", stderr: "" });
  });

  test("exec replaces an unread pending message (init)", () => {
    const g = instantiate("guest-all", ALL);
    const n = g.exports.call_exec?.(...g.put('{"command":"true"}')) as number;
    expect(g.pendingBytes()).toBe(n);
  });

  test("store_set then store_get with the raw key", () => {
    const g = instantiate("guest-all", ALL);
    g.exports.call_store_set?.(...g.put('{"key":"k ✓","value":"v1"}'));
    const n = g.exports.call_store_get?.(...g.put("k ✓")) as number;
    (g.exports.call_recv as (p: number, m: number) => number)(8192, n);
    expect(dec.decode(g.mem().slice(8192, 8192 + n))).toBe('"v1"');
    const m = g.exports.call_store_get?.(...g.put("absent")) as number;
    expect(m).toBe(4);
  });

  test("metadata: JSON array of keys → JSON object (env filtered)", () => {
    const g = instantiate("guest-all", ALL);
    const n = g.exports.call_metadata?.(...g.put('["env","nope"]')) as number;
    (g.exports.call_recv as (p: number, m: number) => number)(8192, n);
    expect(JSON.parse(dec.decode(g.mem().slice(8192, 8192 + n)))).toEqual({ env: { LANG: "C" }, nope: null });
  });
});

describe("bad guest input never crashes fledge; errors name the import", () => {
  test("out-of-bounds pointers", () => {
    const g = instantiate("guest-all", ALL);
    const pageEnd = 65536;
    expect(importError(() => g.exports.call_send?.(pageEnd - 2, 10)).message).toContain("send: out-of-bounds guest memory access");
    expect(importError(() => g.exports.call_exec?.(pageEnd, 1)).message).toContain("exec: out-of-bounds");
    expect(importError(() => g.exports.call_store_get?.(pageEnd + 100, 0)).message).toContain("store_get: out-of-bounds");
    expect(importError(() => g.exports.call_recv?.(pageEnd - 1, 100)).message).toContain("recv: out-of-bounds");
  });

  test("negative pointers and lengths", () => {
    const g = instantiate("guest-all", ALL);
    expect(importError(() => g.exports.call_send?.(-1, 4)).message).toBe("send: negative pointer or length from guest (ptr=-1, len=4)");
    expect(importError(() => g.exports.call_metadata?.(0, -5)).message).toContain("metadata: negative pointer or length");
    expect(importError(() => g.exports.call_recv?.(0, -1)).message).toContain("recv: negative pointer or length");
    expect(importError(() => g.exports.call_store_set?.(0x80000000 | 0, 1)).message).toContain("store_set: negative pointer");
  });

  test("100 MiB lengths are refused before reading", () => {
    const g = instantiate("guest-all", ALL);
    const huge = 100 * 1024 * 1024;
    for (const name of ["send", "exec", "store_set", "store_get", "metadata"]) {
      // Each import's own cap (a store key cannot need more than a few KiB); send's is the message limit.
      expect(importError(() => g.exports[`call_${name}`]?.(0, huge)).message).toBe(`${name}: length ${huge} exceeds the ${IMPORT_MAX_BYTES[name]}-byte limit`);
    }
  });

  test("invalid UTF-8", () => {
    const g = instantiate("guest-all", ALL);
    const bad = g.put(new Uint8Array([0x22, 0xff, 0xfe, 0x22]));
    expect(importError(() => g.exports.call_store_get?.(...bad)).message).toBe("store_get: invalid UTF-8");
    expect(importError(() => g.exports.call_send?.(...bad)).message).toBe("send: invalid UTF-8");
  });

  test("malformed JSON and wrong shapes", () => {
    const g = instantiate("guest-all", ALL);
    expect(importError(() => g.exports.call_exec?.(...g.put("{command:"))).message).toMatch(/^exec: malformed JSON: /);
    expect(importError(() => g.exports.call_store_set?.(...g.put("[]"))).message).toContain("store_set: request must be a JSON object");
    expect(importError(() => g.exports.call_metadata?.(...g.put("nope"))).message).toMatch(/^metadata: malformed JSON/);
    expect(importError(() => g.exports.call_exec?.(...g.put('{"command":5}'))).message).toBe("exec: `command` must be a string");
  });

  test("ungranted requests sent through send get the not-granted answers", () => {
    const g = instantiate("guest-minimal", NO_CAPABILITIES);
    const recv = g.exports.call_recv as (p: number, m: number) => number;
    recv(0, 1 << 16);
    g.exports.call_send?.(...g.put('{"type":"exec","id":"e","command":"touch x"}'));
    const n = recv(8192, 4096);
    expect(JSON.parse(dec.decode(g.mem().slice(8192, 8192 + n)))).toEqual({
      type: "response",
      id: "e",
      value: { code: 126, stdout: "", stderr: "exec capability not granted" },
    });
  });
});
