import { describe, expect, test } from "bun:test";
import { log } from "../src/ui/index.ts";
import { runFledge, runFledgeInProcess } from "./helpers/cli.ts";

// The in-process runner (tests/helpers/inproc.ts) must give a test what a child
// process gives it, and leave the test process as it found it.
describe("main(argv) in process", () => {
  test("same exit code, stdout and stderr as a real child process", async () => {
    for (const args of [["--help"], ["trsut"], ["trust", "--json"], ["plugins", "validate", "tests/fixtures/plugins/hello-wasm", "--json"]]) {
      const child = runFledge(args);
      const here = await runFledgeInProcess(args);
      expect(here, args.join(" ")).toEqual(child);
    }
  }, 60_000);

  test("a logger the test process built first (under bun's NODE_ENV=test) does not change what a run prints", async () => {
    // Which file of a shard logs first used to decide consola's style for every later in-process run.
    log.info("built here first");
    const child = runFledge(["trsut"]);
    expect(await runFledgeInProcess(["trsut"])).toEqual(child);
  });

  test("the environment, cwd and stdin of the test process are restored", async () => {
    const env = { ...process.env };
    const cwd = process.cwd();
    const tty = process.stdin.isTTY;
    await runFledgeInProcess(["plugins", "validate"], { cwd: "/", env: { FLEDGE_DEBUG: "1" } });
    expect(process.env).toEqual(env);
    expect(process.cwd()).toBe(cwd);
    expect(process.stdin.isTTY).toBe(tty);
  });

  test("a global flag of one call does not leak into the next", async () => {
    const a = await runFledgeInProcess(["--debug", "trust", "--json"]);
    expect(a.stderr).toMatch(/^\s+at /m);
    const b = await runFledgeInProcess(["trust", "--json"]);
    expect(b.stderr).not.toMatch(/^\s+at /m);
  });
});
