import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { appendFileSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { addPlugin, compat, makeHome, type Home } from "./helpers.ts";

// Every test runs fledge (in this process: each checks only output and exit code) and a wasm guest, some several times: seconds under load.
setDefaultTimeout(60_000);

let home: Home;
let basicDir: string;
beforeAll(async () => {
  home = makeHome();
  basicDir = await addPlugin(home, { name: "compat", runtime: "wasm", protocol: "fledge-v1", commands: { "compat-basic": compat("compat-basic") } });
  await addPlugin(home, { name: "exec-plugin", runtime: "wasm", protocol: "fledge-v1", granted: { exec: true }, commands: { "compat-exec": compat("compat-exec") } });
  // The same modules, installed without the grants they import.
  await addPlugin(home, { name: "no-exec", runtime: "wasm", protocol: "fledge-v1", commands: { "sneaky-exec": compat("compat-exec") } });
  await addPlugin(home, { name: "no-store", runtime: "wasm", protocol: "fledge-v1", commands: { "sneaky-store": compat("compat-store") } });
  await addPlugin(home, { name: "no-meta", runtime: "wasm", protocol: "fledge-v1", commands: { "sneaky-meta": compat("compat-metadata") } });
  await addPlugin(home, {
    name: "legacy",
    runtime: "native",
    commands: { "legacy-cmd": { script: '#!/bin/sh\necho "legacy argv: $*"\necho "dir=$FLEDGE_PLUGIN_DIR"\nexit 7\n' } },
  });
  await addPlugin(home, {
    name: "proto",
    runtime: "native",
    protocol: "fledge-v1",
    commands: {
      "proto-cmd": {
        // printf, not echo: dash's echo would turn the JSON's \n into a real newline.
        script: '#!/bin/sh\nread -r init\nprintf \'%s\\n\' \'{"type":"output","text":"native v1 got init\\n"}\'\ncase "$init" in *\'"args":["x","--json"]\'*) printf \'%s\\n\' \'{"type":"output","text":"args ok\\n"}\';; esac\nexit 4\n',
      },
    },
  });
  // A plugin claiming the name of a built-in command.
  await addPlugin(home, { name: "shadowed", runtime: "wasm", protocol: "fledge-v1", commands: { canary: compat("compat-basic"), trust: compat("compat-basic") } });
});
afterAll(() => home.cleanup());

describe("dispatch: fledge <command> and fledge plugins run", () => {
  test("a wasm plugin runs end to end: init via recv, output, log, progress, sleep, WASI stdio, fledge.exit(3)", async () => {
    const r = await home.run(["compat-basic", "hello", "--json", "-x"]);
    expect(r.stdout).toBe("args: hello --json -x\nwasi stdout line\n");
    expect(r.stderr).toContain("INFO [compat] hello from compat-basic");
    expect(r.stderr).toContain("compat working (compat)");
    expect(r.stderr).toContain("  [compat] wasi stderr line\n");
    expect(r.code).toBe(3);
  });

  test("fledge plugins run <command> is the same, flags after the command go to the plugin", async () => {
    const r = await home.run(["plugins", "run", "compat-basic", "--help", "--json"]);
    expect(r.stdout).toStartWith("args: --help --json\n");
    expect(r.code).toBe(3);
    const alias = await home.run(["plugin", "run", "compat-basic", "--exit=0"]);
    expect(alias.code).toBe(0);
  });

  test("exit codes propagate: fledge.exit(n), WASI proc_exit(n), returning from main", { timeout: 60_000 }, async () => {
    expect((await home.run(["compat-basic", "--exit=42"])).code).toBe(42);
    expect((await home.run(["compat-basic", "--proc-exit=17"])).code).toBe(17);
    expect((await home.run(["compat-basic", "--exit=0"])).code).toBe(0);
    expect((await home.run(["compat-basic", "--return"])).code).toBe(0);
  });

  test("a trap is reported naming the plugin, with the trap exit code", async () => {
    const r = await home.run(["compat-basic", "--trap"]);
    expect(r.code).toBe(121);
    expect(r.stderr).toContain("Plugin 'compat' trapped");
  });

  test("the sandbox: no WASI argv, no environment, even with secrets in fledge's env", async () => {
    const r = await home.run(["compat-basic", "--sandbox"], { env: { GITHUB_TOKEN: "ghp_secret", FOO: "bar" } });
    expect(r.stdout).toContain("argc=0 envc=0\n");
    expect(r.stdout).not.toContain("ghp_secret");
  });

  test("init carries the args, the plugin (registry name, version, dir) and the GRANTED capabilities", async () => {
    const r = await home.run(["compat-basic", "--init", "a b"]);
    const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
    const init = JSON.parse(line ?? "{}");
    expect(init).toMatchObject({
      type: "init",
      protocol: "fledge-v1",
      args: ["--init", "a b"],
      plugin: { name: "compat", version: "1.0.0", dir: join(home.config, "plugins", "compat") },
      capabilities: { exec: false, store: false, metadata: false, filesystem: "none", network: false },
      project: { root: home.project },
    });
    expect(init.fledge.version).toBeString();
  });

  test("native legacy: argv verbatim, inherited stdio, FLEDGE_PLUGIN_DIR, exit code", async () => {
    const r = await home.run(["legacy-cmd", "a", "--json", "b c"]);
    expect(r.stdout).toContain("legacy argv: a --json b c\n");
    expect(r.stdout).toContain(`dir=${join(home.config, "plugins", "legacy")}`);
    expect(r.code).toBe(7);
  });

  test("native fledge-v1: args in init, not argv; exit code propagates", async () => {
    const r = await home.run(["proto-cmd", "x", "--json"]);
    expect(r.stdout).toBe("native v1 got init\nargs ok\n");
    expect(r.code).toBe(4);
  });
});

describe("the example plugins (tests/fixtures/plugins) run through dispatch", () => {
  test("hello-wasm prints through WASI stdout and exits 0; hello-native runs as a legacy native plugin", async () => {
    const examples = join(import.meta.dir, "..", "fixtures", "plugins");
    await addPlugin(home, { name: "hello-wasm", runtime: "wasm", protocol: "fledge-v1", commands: { "hello-wasm": { file: join(examples, "hello-wasm", "hello.wasm") } } });
    await addPlugin(home, { name: "hello-native", runtime: "native", commands: { "hello-native": { file: join(examples, "hello-native", "bin", "hello-native") } } });
    const w = await home.run(["hello-wasm"]);
    expect(w.stdout).toBe("hello from wasm\n");
    expect(w.code).toBe(0);
    const n = await home.run(["hello-native", "there"]);
    expect(n.code).toBe(0);
    expect(n.stdout).toBe("hello from a native plugin, there\n");
  });
});

describe("not found, suggestions and shadowing", () => {
  test("an unknown command is a usage error (2) suggesting installed plugin commands", async () => {
    const r = await home.run(["compat-basc"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'compat-basc'");
    expect(r.stderr).toContain("'fledge compat-basic'");
  });

  test("suggestions also cover built-ins", async () => {
    const r = await home.run(["plugns"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'fledge plugins'");
  });

  test("fledge plugins run with an unknown command: exit 2 with plugin suggestions", async () => {
    const r = await home.run(["plugins", "run", "legacy-cm"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("plugin command 'legacy-cm' not found");
    expect(r.stderr).toContain("'fledge plugins run legacy-cmd'");
  });

  test("fledge plugins run with no command is a usage error", async () => {
    expect((await home.run(["plugins", "run"])).code).toBe(2);
  });

  test("--json after an unknown command does not turn fledge's error into JSON", async () => {
    const r = await home.run(["nothing-here", "--json"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
  });

  test("built-ins shadow plugin commands; the plugin is still reachable through plugins run", async () => {
    const trust = await home.run(["trust", "CorvidLabs/x", "--json"]);
    expect(trust.stdout).not.toContain("args:");
    expect(JSON.parse(trust.stdout)).toHaveProperty("schema_version", 1);
    const viaRun = await home.run(["plugins", "run", "trust", "--exit=0"]);
    expect(viaRun.stdout).toStartWith("args: --exit=0\n");
    expect(viaRun.code).toBe(0);
  });
});

describe("through dispatch: ungranted fledge imports are refused before running", () => {
  for (const [cmd, cap] of [
    ["sneaky-exec", "exec"],
    ["sneaky-store", "store"],
    ["sneaky-meta", "metadata"],
  ] as const) {
    test(`${cmd} imports ${cap} without the grant`, async () => {
      // The guest would print "exec(" / "store done" / "metadata:" if it ran at all.
      const r = await home.run([cmd, '{"command":"touch ran"}', "set", "k", "v", '["env"]']);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`capabilities not granted: ${cap}`);
      expect(r.stderr).toContain("[capabilities]");
      expect(existsSync(join(home.project, "ran"))).toBe(false);
    });
  }

  test("the same module with the grant runs", async () => {
    const r = await home.run(["compat-exec", '{"command":"echo hi"}']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"stdout":"hi\\n"');
  });
});

describe("grants come from the registry only", () => {
  test("a live plugin editing its plugin.toml to add exec gains nothing", async () => {
    const dir = await addPlugin(home, { name: "greedy", runtime: "wasm", protocol: "fledge-v1", commands: { greedy: compat("compat-exec") } });
    const toml = join(dir, "plugin.toml");
    writeFileSync(toml, readFileSync(toml, "utf8").replace("exec = false", "exec = true"));
    const r = await home.run(["greedy", '{"command":"touch pwned"}']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("capabilities not granted: exec");
    expect(existsSync(join(home.project, "pwned"))).toBe(false);
  });

  test("a manifest asking for more than was granted: init reports the granted set", async () => {
    await addPlugin(home, {
      name: "asks-more",
      runtime: "wasm",
      protocol: "fledge-v1",
      granted: { store: true },
      requested: { exec: true, store: true, metadata: true, filesystem: "plugin", network: true },
      commands: { "asks-more": compat("compat-basic") },
    });
    const r = await home.run(["asks-more", "--init", "--exit=0"]);
    const init = JSON.parse(r.stdout.split("\n").find((l) => l.startsWith("{")) ?? "{}");
    expect(init.capabilities).toEqual({ exec: false, store: true, metadata: false, filesystem: "none", network: false });
  });
});

describe("binary integrity and location", () => {
  test("a binary changed since install is refused, pointing at verify", async () => {
    const dir = await addPlugin(home, { name: "tampered", runtime: "native", commands: { tampered: { script: "#!/bin/sh\necho original\n" } } });
    appendFileSync(join(dir, "bin", "tampered"), "echo evil > evil\n");
    const r = await home.run(["tampered"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("has changed since it was installed");
    expect(r.stderr).toContain("fledge plugins verify tampered");
    expect(existsSync(join(home.project, "evil"))).toBe(false);
  });

  test("a tampered wasm binary is refused too", async () => {
    const dir = await addPlugin(home, { name: "tampered-wasm", runtime: "wasm", protocol: "fledge-v1", commands: { "tampered-wasm": compat("compat-basic") } });
    const bin = join(dir, "bin", "compat-basic.wasm");
    writeFileSync(bin, readFileSync(compat("compat-send").file));
    const r = await home.run(["tampered-wasm"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("has changed since it was installed");
  });

  test("a manifest re-pointed at a binary that was never recorded is refused", async () => {
    const dir = await addPlugin(home, { name: "repointed", runtime: "native", commands: { repointed: { script: "#!/bin/sh\necho ok\n" } } });
    writeFileSync(join(dir, "other.sh"), "#!/bin/sh\necho other\n", { mode: 0o755 });
    const toml = join(dir, "plugin.toml");
    writeFileSync(toml, readFileSync(toml, "utf8").replace('binary = "bin/repointed"', 'binary = "other.sh"'));
    const r = await home.run(["repointed"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("was not part of the plugin when it was installed");
  });

  test("without an integrity table (an original-fledge registry) the plugin runs", async () => {
    await addPlugin(home, { name: "old-style", runtime: "native", integrity: false, commands: { "old-style": { script: "#!/bin/sh\necho old\n" } } });
    const r = await home.run(["old-style"]);
    expect(r.stdout).toBe("old\n");
    expect(r.code).toBe(0);
  });

  test("a binary that resolves outside the plugin dir is refused", async () => {
    const outside = join(home.root, "outside.sh");
    writeFileSync(outside, "#!/bin/sh\necho escaped\n", { mode: 0o755 });
    const dir = await addPlugin(home, { name: "escaper", runtime: "native", integrity: false, commands: { escaper: { script: "#!/bin/sh\necho fine\n" } } });
    rmSync(join(dir, "bin", "escaper"));
    symlinkSync(outside, join(dir, "bin", "escaper"));
    const r = await home.run(["escaper"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/outside the plugin directory|cannot run/);
  });

  test("a plugin registered as wasm whose binary is native is never spawned", async () => {
    const dir = await addPlugin(home, { name: "switcher", runtime: "wasm", protocol: "fledge-v1", integrity: false, commands: { switcher: compat("compat-basic") } });
    writeFileSync(join(dir, "bin", "compat-basic.wasm"), "#!/bin/sh\necho native > native-ran\n", { mode: 0o755 });
    const r = await home.run(["switcher"]);
    expect(r.code).toBe(1);
    expect(existsSync(join(home.project, "native-ran"))).toBe(false);
  });

  test("a missing plugin directory is a clear error", async () => {
    const dir = await addPlugin(home, { name: "gone", runtime: "native", commands: { gone: { script: "#!/bin/sh\n" } } });
    rmSync(dir, { recursive: true });
    const r = await home.run(["gone"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Plugin 'gone' cannot run");
  });
});
