/**
 * Which release's prebuilt wasm an install without `@ref` uses. A pinned install uses
 * the pinned tag's release; an unpinned one resolved the default branch to a commit,
 * so: the release whose tag points at that very commit; otherwise the newest release
 * that has every missing binary (the install then takes that tag's source too, so the
 * manifest and the module match). When none fits, the plugin is built from source and
 * the user is told what to install or pin.
 */
import { basename } from "node:path";
import { log } from "../ui/index.ts";
import { renderUntrusted } from "../ui/sanitize.ts";
import { listTagCommits, releaseAssets, type GithubClient } from "./github.ts";

/** Newest tag: the highest vX.Y.Z when there are semver tags, else the first listed. */
export function newestTag(tags: string[]): string | null {
  const parse = (t: string): number[] | null => {
    const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(t);
    return m ? m.slice(1).map(Number) : null;
  };
  const semver = tags.filter((t) => parse(t) !== null);
  if (semver.length === 0) return tags[0] ?? null;
  return semver.reduce((a, b) => {
    const x = parse(a)!;
    const y = parse(b)!;
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! > y[i]! ? a : b;
    return a;
  });
}

export type ReleasePick =
  /** Use this tag's release assets for the source already fetched (the tag points at its commit). */
  | { kind: "same-commit"; tag: string }
  /** Fetch this tag's source instead and use its release assets. */
  | { kind: "switch"; tag: string }
  | { kind: "none"; hint: string };

/** The release to take prebuilt binaries from for `owner/repo` at `commit`, with `missing` binaries (paths from plugin.toml). */
export async function pickRelease(client: GithubClient, owner: string, repo: string, commit: string, missing: readonly string[]): Promise<ReleasePick> {
  const tags = await listTagCommits(client, owner, repo);
  const at = tags.find((t) => t.sha === commit);
  if (at) return { kind: "same-commit", tag: at.name };
  const names = missing.map((m) => basename(m));
  const newest = newestTag(tags.map((t) => t.name));
  const full = `${owner}/${repo}`;
  if (newest) {
    const assets = await releaseAssets(client, owner, repo, newest);
    if (assets && names.every((n) => assets.some((a) => a.name === n))) return { kind: "switch", tag: newest };
  }
  const why = newest
    ? `no release of ${renderUntrusted(full)} matches commit ${commit.slice(0, 12)}, and its latest release ${renderUntrusted(newest)} has no ${names.map((n) => renderUntrusted(n)).join(", ")}`
    : `${renderUntrusted(full)} has no tagged releases with a prebuilt ${names.map((n) => renderUntrusted(n)).join(", ")}`;
  return { kind: "none", hint: `${why}; fledge builds it from source instead (install its toolchain${newest ? `, or pin a release that has one: ${renderUntrusted(full)}@<tag>` : ""})` };
}

export function announcePick(pick: ReleasePick, full: string): void {
  if (pick.kind === "switch") log.info(`the default branch of ${renderUntrusted(full)} has no prebuilt module and no release; installing its latest release ${renderUntrusted(pick.tag)} (pin another with ${renderUntrusted(full)}@<tag>)`);
  else if (pick.kind === "none") log.info(pick.hint);
}
