import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FledgeError } from "../../../src/ui/index.ts";
import { parseDir, parseEnv, parseRunArgs } from "../../../src/cli/wasm.ts";
import { verifyDescriptor } from "../../../src/wasi/hostfs.ts";
import { ERRNO, WasiErrno } from "../../../src/wasi/errno.ts";
import { closeQuietly, openDir } from "./harness.ts";
import { tempDir } from "../../helpers/cli.ts";

let tmp: ReturnType<typeof tempDir>;
let data: string;
beforeAll(() => {
  tmp = tempDir("fledge-wasi-cli-");
  data = join(tmp.path, "data");
  mkdirSync(data);
  writeFileSync(join(tmp.path, "file"), "");
});
afterAll(() => tmp.cleanup());

const message = (f: () => unknown): string => {
  try {
    f();
    return "";
  } catch (e) {
    return e instanceof FledgeError ? e.message : String(e);
  }
};

describe("--dir and --env parsing", () => {
  test("HOST, HOST::GUEST, :ro suffix", () => {
    expect(parseDir(data)).toEqual({ hostPath: data, guestPath: "/data", readOnly: false });
    expect(parseDir(`${data}/`)).toEqual({ hostPath: `${data}/`, guestPath: "/data", readOnly: false });
    expect(parseDir(`${data}::/x`)).toEqual({ hostPath: data, guestPath: "/x", readOnly: false });
    expect(parseDir(`${data}:ro`)).toEqual({ hostPath: data, guestPath: "/data", readOnly: true });
    expect(parseDir(`${data}::/project:ro`)).toEqual({ hostPath: data, guestPath: "/project", readOnly: true });
    expect(parseDir(".").guestPath).toBe("/");
  });
  test("bad --dir: missing, not a directory, empty parts", () => {
    expect(message(() => parseDir(join(tmp.path, "missing")))).toContain("does not exist");
    expect(message(() => parseDir(join(tmp.path, "file")))).toContain("not a directory");
    expect(message(() => parseDir(`${data}::`))).toContain("guest path");
    expect(message(() => parseDir("::/x"))).toContain("host directory is empty");
  });
  test("--env K=V keeps '=' in values; no name is an error", () => {
    expect(parseEnv("A=b=c")).toEqual(["A", "b=c"]);
    expect(parseEnv("A=")).toEqual(["A", ""]);
    expect(message(() => parseEnv("NOEQ"))).toContain("bad --env");
    expect(message(() => parseEnv("=v"))).toContain("bad --env");
  });
  test("the head ends at the module path; the guest's arguments come separately, untouched (tests/run/passthrough.test.ts covers the cut)", () => {
    expect(parseRunArgs(["--env", "A=1", "m.wasm"], ["--env", "x", "--"])).toMatchObject({ file: "m.wasm", guestArgs: ["--env", "x", "--"], env: [["A", "1"]] });
    expect(parseRunArgs(["--", "m.wasm"], ["a"])).toMatchObject({ file: "m.wasm", guestArgs: ["a"] });
    expect(() => parseRunArgs(["m.wasm", "-x_y"])).toThrow("must come as guestArgs");
    expect(parseRunArgs([`--dir=${data}`, "--env=K=V", "m.wasm"])).toMatchObject({ dirs: [{ guestPath: "/data" }], env: [["K", "V"]] });
    expect(message(() => parseRunArgs([]))).toContain("missing the module");
    expect(message(() => parseRunArgs(["--bogus", "m.wasm"]))).toContain("unknown option");
  });
});

describe("verifyDescriptor (Linux /proc/self/fd check)", () => {
  test.skipIf(process.platform !== "linux")("a descriptor outside the sandbox root is ENOTCAPABLE; inside passes", () => {
    const root = openDir(data);
    const inside = openSync(join(data), "r");
    const outside = openSync(join(tmp.path, "file"), "r");
    try {
      expect(() => verifyDescriptor(inside, undefined, root)).not.toThrow();
      let errno = 0;
      try {
        verifyDescriptor(outside, undefined, root);
      } catch (e) {
        errno = e instanceof WasiErrno ? e.errno : -1;
      }
      expect(errno).toBe(ERRNO.notcapable);
    } finally {
      closeQuietly(root.fd);
      closeQuietly(inside);
      closeQuietly(outside);
    }
  });
});
