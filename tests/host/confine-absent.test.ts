/**
 * A kernel without Landlock (older kernels, WSL1, containers that block it), made
 * real without any hook in fledge: strace answers every landlock_create_ruleset with
 * ENOSYS, as such a kernel does. fledge must say so at run and in `list`, label the
 * plugin "unconfined, elevated risk", and still run it as before.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAIN, ROOT } from "../helpers/cli.ts";
import { runFledgeAsync, sandbox } from "../install/helpers.ts";

const STRACE = Bun.which("strace");
if (!STRACE) console.log("confine-absent: strace not found; the no-Landlock test is skipped (apt-get install strace to run it)");
const SECRET = "PLANTED-NO-LANDLOCK-5e1";

let sb: ReturnType<typeof sandbox>;
beforeAll(() => {
  sb = sandbox();
  sb.env.HOME = join(sb.root, "home");
  mkdirSync(sb.env.HOME, { recursive: true });
});
afterAll(() => sb.cleanup());

/** fledge with Landlock gone: every landlock_create_ruleset fails with ENOSYS, in fledge and in every child. */
async function withoutLandlock(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([STRACE!, "-f", "-qq", "-o", "/dev/null", "-e", "trace=landlock_create_ruleset", "-e", "inject=landlock_create_ruleset:error=ENOSYS", process.execPath, MAIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...sb.env, NO_COLOR: "1" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

describe.skipIf(!STRACE || process.platform !== "linux")("a kernel without Landlock", () => {
  test("the native plugin runs unconfined, and fledge says so at run and in list", async () => {
    const home = sb.env.HOME!;
    mkdirSync(join(home, ".ssh"), { recursive: true });
    writeFileSync(join(home, ".ssh", "id_ed25519"), `${SECRET}\n`);
    const dir = join(sb.root, "peek");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "plugin.toml"), '[plugin]\nname = "peek"\nversion = "0.1.0"\ndescription = "d"\nauthor = "a"\n\n[[commands]]\nname = "peek"\nbinary = "peek.sh"\n');
    writeFileSync(join(dir, "peek.sh"), '#!/bin/sh\necho "ran: $1"\ncat "$HOME/.ssh/id_ed25519" 2>/dev/null || echo "no secret"\n');
    chmodSync(join(dir, "peek.sh"), 0o755);
    const inst = await withoutLandlock(["plugins", "install", dir, "--yes", "--trust-native"]);
    expect(inst.code).toBe(0);
    // At install: the consent names what the plugin will run as, and why.
    expect(inst.stderr.replace(/\s+/g, " ")).toContain("unconfined, elevated risk (this Linux kernel offers no Landlock)");

    // With Landlock (this machine), the same installed plugin is confined: the secret stays unreadable.
    const confined = await runFledgeAsync(["peek", "x"], { env: sb.env, spawn: true });
    expect(confined.stdout).toContain("ran: x");
    expect(confined.stdout).toContain("no secret");

    const run = await withoutLandlock(["peek", "x"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("ran: x");
    // Unconfined means as before: it runs with the user's rights (the threat, shown).
    expect(run.stdout).toContain(SECRET);
    expect(run.stderr).toContain("peek runs unconfined, elevated risk: this Linux kernel offers no Landlock");

    const list = await withoutLandlock(["plugins", "list"]);
    expect(list.code).toBe(0);
    expect(list.stdout.replace(/\s+/g, " ")).toContain("unconfined, elevated risk");
  }, 120_000);
});
