/**
 * The parsed registry snapshot of `plugins list` (src/install/registry-snapshot.ts) is
 * used only when fledge wrote it, under this user's key, for exactly the plugins.toml
 * text on disk. Every attack here must give the same answer as parsing plugins.toml:
 * a hand edit that keeps the size and restores the times, a forged snapshot, one from
 * another user's key, a directory, a symlink, garbage, a corrupt registry behind a
 * valid snapshot, processes racing to write it.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fledgePaths } from "../../src/registry/paths.ts";
import { parseRegistry, serializeRegistry } from "../../src/registry/registry.ts";
import type { Registry, RegistryEntry } from "../../src/registry/types.ts";
import { memoFile, readRegistryView, snapshotFile, writeSnapshot } from "../../src/install/registry-snapshot.ts";
import { currentTier, listRows, listText } from "../../src/install/list.ts";
import { renderList } from "../../src/cli/plugins-list.ts";
import { forgetCacheKeys, loadCacheKey } from "../../src/wasm/cache-key.ts";
import { MAIN } from "../helpers/cli.ts";
import { baseEnv, sandbox } from "./helpers.ts";

function entry(i: number, version = "1.0.0"): RegistryEntry {
  return {
    name: `p${i}`,
    source: `someone/p${i}`,
    version,
    installed: "2026-01-01",
    commands: [`p${i}`],
    runtime: i % 2 === 0 ? "wasm" : "native",
    capabilities: { exec: i === 1, store: false, metadata: false, filesystem: "none", network: false },
    kind: "downloaded",
  };
}

const boxes: { cleanup: () => void }[] = [];
afterEach(() => {
  for (const b of boxes.splice(0)) b.cleanup();
  forgetCacheKeys();
});

/** A config folder with `n` registered plugins; returns its env and paths. */
function setup(n = 3): { env: Record<string, string>; paths: ReturnType<typeof fledgePaths>; root: string } {
  const sb = sandbox();
  boxes.push(sb);
  mkdirSync(sb.config, { recursive: true });
  const paths = fledgePaths(sb.env);
  writeFileSync(paths.registryFile, serializeRegistry({ plugins: Array.from({ length: n }, (_, i) => entry(i)) }));
  return { env: sb.env, paths, root: sb.root };
}

/** What parsing plugins.toml itself says (the answer every case must give). */
function parsed(paths: ReturnType<typeof fledgePaths>): Registry {
  return parseRegistry(readFileSync(paths.registryFile, "utf8"), paths.registryFile);
}

/** Read through the snapshot as a fresh process would (no key kept in memory). */
const NO_TRUST = { orgs: [], users: [] };

function view(env: Record<string, string>): Registry {
  forgetCacheKeys();
  return readRegistryView(env, NO_TRUST, (e) => currentTier(e, NO_TRUST)).reg;
}

describe("registry snapshot", () => {
  test("a miss writes a snapshot; the next read uses it and says the same", () => {
    const { env, paths } = setup();
    expect(existsSync(snapshotFile(paths))).toBe(false);
    expect(view(env)).toEqual(parsed(paths));
    expect(statSync(snapshotFile(paths)).mode & 0o777).toBe(0o600);
    const before = readFileSync(snapshotFile(paths));
    expect(view(env)).toEqual(parsed(paths));
    expect(readFileSync(snapshotFile(paths))).toEqual(before);
    // The read really comes from the snapshot: one fledge wrote (with the key) for this
    // exact text is believed, whatever it says. This is why only fledge may write one.
    const key = loadCacheKey(paths.configDir)!;
    writeSnapshot(paths, key, readFileSync(paths.registryFile, "utf8"), { reg: { plugins: [entry(5)] }, trust: NO_TRUST, tiers: ["official"] });
    expect(view(env)).toEqual({ plugins: [entry(5)] });
  });

  test("a hand edit of plugins.toml with the same size and restored times is seen", () => {
    const { env, paths, root } = setup();
    view(env);
    const ref = join(root, "times-ref");
    cpSync(paths.registryFile, ref, { preserveTimestamps: true });
    const text = readFileSync(paths.registryFile, "utf8");
    const edited = text.replace('version = "1.0.0"', 'version = "9.9.9"');
    expect(edited.length).toBe(text.length);
    writeFileSync(paths.registryFile, edited);
    const touch = Bun.spawnSync(["touch", "-r", ref, paths.registryFile]);
    expect(touch.exitCode).toBe(0);
    expect(statSync(paths.registryFile, { bigint: true }).mtimeNs).toBe(statSync(ref, { bigint: true }).mtimeNs);
    const got = view(env);
    expect(got.plugins[0]!.version).toBe("9.9.9");
    expect(got).toEqual(parsed(paths));
  });

  test("a forged snapshot (wrong MAC, another user's key, another registry's) is ignored and replaced", () => {
    const { env, paths } = setup();
    view(env);
    const real = readFileSync(snapshotFile(paths), "utf8");
    const [format, mac] = real.split("\n");
    // The body claims one harmless plugin instead of three; the MAC line is kept.
    const forgedBody = JSON.stringify({ plugins: [entry(7)] });
    writeFileSync(snapshotFile(paths), `${format}\n${mac}\n${forgedBody}`);
    expect(view(env)).toEqual(parsed(paths));
    expect(readFileSync(snapshotFile(paths), "utf8")).toBe(real);
    // A valid snapshot from another config folder (its own key) for the same text.
    const other = setup();
    writeFileSync(other.paths.registryFile, readFileSync(paths.registryFile));
    view(other.env);
    writeFileSync(snapshotFile(paths), readFileSync(snapshotFile(other.paths)));
    expect(view(env)).toEqual(parsed(paths));
    expect(readFileSync(snapshotFile(paths), "utf8")).toBe(real);
  });

  test("a snapshot that is a directory, a symlink, garbage, empty or truncated is a miss, never an error", () => {
    const { env, paths, root } = setup();
    view(env);
    const good = readFileSync(snapshotFile(paths));
    const file = snapshotFile(paths);
    const cases: [string, () => void][] = [
      ["directory", () => mkdirSync(file)],
      ["symlink to a valid snapshot", () => {
        writeFileSync(join(root, "elsewhere"), good);
        symlinkSync(join(root, "elsewhere"), file);
      }],
      ["dangling symlink", () => symlinkSync(join(root, "nowhere"), file)],
      ["garbage", () => writeFileSync(file, Buffer.from([0, 1, 2, 255, 254, 10, 10]))],
      ["empty", () => writeFileSync(file, "")],
      ["truncated", () => writeFileSync(file, good.subarray(0, good.length - 10))],
      ["MAC but no body", () => writeFileSync(file, good.toString("utf8").split("\n").slice(0, 2).join("\n"))],
    ];
    for (const [what, make] of cases) {
      rmSync(file, { recursive: true, force: true });
      make();
      expect({ what, got: view(env) }).toEqual({ what, got: parsed(paths) });
    }
  });

  test("tiers follow config.toml's trust lists: a change is seen at once and the snapshot is redone", () => {
    const { env, paths } = setup();
    const tiers = (): string[] => {
      forgetCacheKeys();
      return listRows(env).map((r) => r.trust_tier);
    };
    expect(tiers()).toEqual(["unverified", "unverified", "unverified"]);
    writeFileSync(paths.configFile, '[trust]\norgs = ["someone"]\n');
    expect(tiers()).toEqual(["team", "team", "team"]);
    expect(readFileSync(snapshotFile(paths), "utf8")).toContain('"orgs":["someone"]');
    expect(tiers()).toEqual(["team", "team", "team"]);
    writeFileSync(paths.configFile, "[trust]\norgs = []\n");
    expect(tiers()).toEqual(["unverified", "unverified", "unverified"]);
  });

  test("a valid snapshot never hides a corrupt registry", () => {
    const { env, paths } = setup();
    view(env);
    writeFileSync(paths.registryFile, `${readFileSync(paths.registryFile, "utf8")}\n[[plugins]]\nname = "bin"\n`);
    forgetCacheKeys();
    expect(() => view(env)).toThrow(/Plugin registry .* is invalid/);
  });

  test("no registry, a read-only cache folder, unknown keys: the parsed answer, nothing written", () => {
    const { env, paths } = setup();
    rmSync(paths.registryFile);
    expect(view(env)).toEqual({ plugins: [] });
    writeFileSync(paths.registryFile, serializeRegistry({ plugins: [{ ...entry(0), extra: { future_key: "x" } }] }));
    expect(view(env)).toEqual(parsed(paths));
    expect(existsSync(snapshotFile(paths))).toBe(false);
    // A file where the cache folder belongs: the snapshot cannot be written, the read still works.
    writeFileSync(paths.registryFile, serializeRegistry({ plugins: [entry(0)] }));
    writeFileSync(join(paths.configDir, "cache"), "not a folder");
    expect(view(env)).toEqual(parsed(paths));
  });

  test("plugins list: processes racing on a fresh config all print the parsed answer", async () => {
    const { env, paths } = setup(40);
    const expected = listRows(env, parseRegistry(readFileSync(paths.registryFile, "utf8"), paths.registryFile));
    const runs = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const p = Bun.spawn([process.execPath, MAIN, "plugins", "list", "--json"], { env: baseEnv(env), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
        const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
        return { out, err, code };
      }),
    );
    for (const r of runs) {
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect((JSON.parse(r.out) as { plugins: unknown }).plugins).toEqual(JSON.parse(JSON.stringify(expected)));
    }
    // The snapshot left behind is a whole one fledge wrote for this text.
    expect(view(env)).toEqual(parsed(paths));
    const again = Bun.spawnSync([process.execPath, MAIN, "plugins", "list", "--json"], { env: baseEnv(env), stdout: "pipe", stderr: "pipe" });
    expect(again.stdout.toString()).toBe(runs[0]!.out);
  }, 60_000);

  test("plugins list's output is remembered only for the inputs it was made for", () => {
    const { env, paths, root } = setup(5);
    const layout = { width: 80, color: false };
    const fresh = (): string => renderList(listRows(env, parsed(paths)), layout);
    const listed = (): string => {
      forgetCacheKeys();
      return listText(env, layout, renderList);
    };
    expect(listed()).toBe(fresh());
    expect(existsSync(memoFile(paths, "plugins-list"))).toBe(true);
    // A hit renders nothing: the remembered text is printed.
    forgetCacheKeys();
    expect(listText(env, layout, () => { throw new Error("rendered on a hit"); })).toBe(fresh());
    // Another width is another input.
    forgetCacheKeys();
    expect(listText(env, { width: 200, color: false }, renderList)).toBe(renderList(listRows(env, parsed(paths)), { width: 200, color: false }));
    // A same-size edit with restored times, and a trust change, are seen at once.
    const ref = join(root, "times-ref");
    cpSync(paths.registryFile, ref, { preserveTimestamps: true });
    writeFileSync(paths.registryFile, readFileSync(paths.registryFile, "utf8").replace('version = "1.0.0"', 'version = "7.7.7"'));
    expect(Bun.spawnSync(["touch", "-r", ref, paths.registryFile]).exitCode).toBe(0);
    expect(listed()).toContain("7.7.7");
    expect(listed()).toBe(fresh());
    writeFileSync(paths.configFile, '[trust]\nusers = ["someone"]\n');
    expect(listed()).toContain("team");
    expect(listed()).toBe(fresh());
  });

  test("a forged, foreign, directory, symlinked or garbage memo is a miss, never an error", () => {
    const { env, paths, root } = setup(3);
    const layout = { width: 80, color: false };
    const fresh = renderList(listRows(env, parsed(paths)), layout);
    const listed = (): string => {
      forgetCacheKeys();
      return listText(env, layout, renderList);
    };
    expect(listed()).toBe(fresh);
    const file = memoFile(paths, "plugins-list");
    const good = readFileSync(file, "utf8");
    const [format, mac] = good.split("\n");
    const other = setup(3);
    forgetCacheKeys();
    listText(other.env, layout, renderList); // the same output, under another user's key
    const cases: [string, () => void][] = [
      ["forged body", () => writeFileSync(file, `${format}\n${mac}\nNAME\nnothing to see here\n`)],
      ["another key's memo", () => writeFileSync(file, readFileSync(memoFile(other.paths, "plugins-list")))],
      ["directory", () => mkdirSync(file)],
      ["symlink to a valid memo", () => {
        writeFileSync(join(root, "memo-elsewhere"), good);
        symlinkSync(join(root, "memo-elsewhere"), file);
      }],
      ["garbage", () => writeFileSync(file, Buffer.from([255, 0, 10, 10, 10]))],
    ];
    for (const [what, make] of cases) {
      rmSync(file, { recursive: true, force: true });
      make();
      expect({ what, out: listed() }).toEqual({ what, out: fresh });
    }
  });

  test("plugins list prints the same table on a miss and on a hit", () => {
    const { env, paths } = setup(12);
    const expected = `${renderList(listRows(env, parsed(paths)), { width: 80, color: false })}\n`;
    for (let i = 0; i < 2; i++) {
      const r = Bun.spawnSync([process.execPath, MAIN, "plugins", "list"], { env: baseEnv({ ...env, COLUMNS: "80" }), stdout: "pipe", stderr: "pipe" });
      expect(r.stderr.toString()).toBe("");
      expect(r.stdout.toString()).toBe(expected);
    }
  }, 60_000);
});
