/**
 * Prebuilt wasm from GitHub release assets (fledge's own; the original always built): for a wasm
 * plugin installed at a tag whose binary is not in the tarball, a release asset named
 * like the binary's file name is downloaded instead of building. When the release
 * has a `SHA256SUMS` (or `checksums.txt`) asset, the binary must be listed there with
 * a matching sha256; otherwise the install is refused. `--build` skips all this.
 */
import { closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { resolveInside } from "../manifest/index.ts";
import { FledgeError } from "../core/index.ts";
import { log } from "../ui/index.ts";
import { downloadAsset, releaseAssets, type GithubClient } from "./github.ts";
import { sha256File, exists } from "./shims.ts";
import type { Staging } from "./staging.ts";
import { renderUntrusted } from "../ui/sanitize.ts";

const CHECKSUM_FILES = ["SHA256SUMS", "SHA256SUMS.txt", "checksums.txt", "sha256sums.txt"];
const WASM_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x6d]);

/** Parse `sha256sum` output: `<hex>  <name>` or `<hex> *<name>` per line. */
export function parseChecksums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$/.exec(line);
    if (m) out.set(basename(m[2]!), m[1]!.toLowerCase());
  }
  return out;
}

/** The first `n` bytes of a file (fewer if it is shorter): the magic check reads no more of an asset than that. */
function fileHead(path: string, n: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** Returns the binaries (as written in plugin.toml) that were placed from release assets. */
export async function fetchPrebuiltWasm(client: GithubClient, owner: string, repo: string, tag: string, staging: Staging, missing: string[]): Promise<string[]> {
  if (missing.length === 0) return [];
  const assets = await releaseAssets(client, owner, repo, tag);
  if (!assets || assets.length === 0) return [];
  const wanted = missing.filter((bin) => assets.some((a) => a.name === basename(bin)));
  if (wanted.length === 0) return [];
  let sums: Map<string, string> | undefined;
  const sumsAsset = assets.find((a) => CHECKSUM_FILES.includes(a.name));
  if (sumsAsset) {
    const file = join(staging.scratch, "checksums");
    await downloadAsset(client, sumsAsset, file);
    sums = parseChecksums(readFileSync(file, "utf8"));
  }
  const placed: string[] = [];
  for (const bin of wanted) {
    const asset = assets.find((a) => a.name === basename(bin))!;
    const r = resolveInside(staging.tree, bin);
    if (!("path" in r) || exists(r.path)) continue;
    const tmp = join(staging.scratch, `asset-${placed.length}`);
    await downloadAsset(client, asset, tmp);
    const actual = sha256File(tmp);
    if (sums) {
      const expected = sums.get(asset.name);
      if (!expected) throw new FledgeError(`release ${renderUntrusted(tag)} has ${renderUntrusted(sumsAsset!.name)}, but it does not list ${renderUntrusted(asset.name)}`, { code: "checksum_mismatch", hint: "use --build to build from source instead" });
      if (expected !== actual) throw new FledgeError(`release asset ${renderUntrusted(asset.name)} does not match its sha256 in ${renderUntrusted(sumsAsset!.name)} (expected ${expected}, got ${actual})`, { code: "checksum_mismatch", hint: "the download may be corrupt or tampered with; use --build to build from source" });
    } else {
      log.warn(`release ${renderUntrusted(tag)} has no SHA256SUMS or checksums.txt; ${renderUntrusted(asset.name)} is not verified beyond the TLS download`);
    }
    const head = fileHead(tmp, 4);
    if (!head.equals(WASM_MAGIC)) throw new FledgeError(`release asset ${renderUntrusted(asset.name)} is not a WebAssembly module`, { code: "prebuilt_invalid", hint: "use --build to build from source" });
    mkdirSync(dirname(r.path), { recursive: true });
    // Copy rather than rename: the scratch file stays in scratch, the tree gets a fresh file.
    await Bun.write(r.path, Bun.file(tmp));
    rmSync(tmp, { force: true });
    placed.push(bin);
    log.info(`using prebuilt ${renderUntrusted(asset.name)} from release ${renderUntrusted(tag)}${sums ? " (sha256 verified)" : ""}`);
  }
  return placed;
}
