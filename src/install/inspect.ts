/**
 * Read-only views of installed plugins: `audit`, `verify` (and `list`, in ./list.ts).
 * Capabilities always come from the registry (what was granted), never from the
 * manifest on disk.
 */
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { resolveInside } from "../manifest/index.ts";
import { fledgePaths, readRegistry, type Registry } from "../registry/index.ts";
import { describeConfinementNeeds, type Capabilities } from "../manifest/index.ts";
import { currentTier, kindOf, listRow, trustConfig, type KindShown, type ListRow } from "./list.ts";
import { approvedHooks, lookupPlugin } from "./remove.ts";

export { listRows, kindOf, type KindShown, type ListRow } from "./list.ts";
import { exists, sha256File } from "./shims.ts";

export interface AuditRow extends ListRow {
  capabilities: Capabilities;
  hooks: Record<string, string>;
  has_lifecycle_hooks: boolean;
  /** The granted `[confinement]` extras, in plain words. */
  confinement_extras: string[];
  /** Why this plugin deserves attention (empty when nothing stands out). */
  warnings: string[];
}

export interface AuditSummary {
  total: number;
  unverified: number;
  elevated: number;
  native: number;
  sandboxed: number;
}

export function auditRows(env: NodeJS.ProcessEnv, reg: Registry = readRegistry(env)): { rows: AuditRow[]; summary: AuditSummary } {
  const trust = trustConfig(env);
  // Row and grant come from the same entry of the same snapshot.
  const rows = reg.plugins.map((e) => {
    const row = listRow(e, currentTier(e, trust));
    const hooks = approvedHooks(e);
    const warnings: string[] = [];
    if (e.runtime === "native" && row.confined) warnings.push(`native plugin, ${row.confinement ?? "confined"}: no credentials, tokens or writes outside its folder${e.capabilities.filesystem === "project" ? " and the project" : ""} unless listed below`);
    else if (e.runtime === "native") warnings.push(`native plugin, ${row.confinement ?? "unconfined"}: runs with your full user rights`);
    const extras = describeConfinementNeeds(e.confinement ?? { read: [], write: [], env: [] });
    if (e.capabilities.exec) warnings.push("may run shell commands (exec)");
    if (e.capabilities.network) warnings.push(e.runtime === "wasm" && (e.capabilities.hosts?.length ?? 0) > 0 ? `may use the network (HTTP to ${(e.capabilities.hosts ?? []).join(", ")})` : "may use the network");
    if (row.trust_tier === "unverified" && (e.capabilities.exec || e.capabilities.metadata || e.capabilities.network)) warnings.push("unverified source with elevated capabilities");
    const lifecycle = ["post_install", "post_remove", "pre_init", "post_work_start", "pre_push"].some((h) => h in hooks);
    return { ...row, capabilities: { ...e.capabilities }, hooks, has_lifecycle_hooks: lifecycle, confinement_extras: extras, warnings };
  });
  const summary: AuditSummary = {
    total: rows.length,
    unverified: rows.filter((r) => r.trust_tier === "unverified").length,
    elevated: rows.filter((r) => r.risk === "elevated").length,
    native: rows.filter((r) => r.runtime === "native").length,
    sandboxed: rows.filter((r) => r.sandboxed).length,
  };
  return { rows, summary };
}

export type FileStatus = "ok" | "modified" | "missing" | "escapes";

export interface VerifyRow {
  name: string;
  /**
   * ok: every binary matches; failed: one differs or is gone (or a live link's source
   * folder is gone); unknown: no integrity recorded; linked: a live link, whose binaries
   * change whenever its author rebuilds (not checked, reported for information).
   */
  status: "ok" | "failed" | "unknown" | "linked";
  kind: KindShown;
  /** Kept for older JSON readers: kind === "linked". */
  linked: boolean;
  /** For a live link: the author's folder it points at, and whether it still exists. */
  link_target: string | null;
  link_target_exists: boolean | null;
  files: { binary: string; status: FileStatus; expected: string; actual: string | null }[];
}

/** Re-hash each command binary against the registry's integrity map. Never throws for a missing or dangling folder. */
export function verifyPlugins(env: NodeJS.ProcessEnv, name?: string, reg: Registry = readRegistry(env)): VerifyRow[] {
  const paths = fledgePaths(env);
  const entries = name === undefined ? reg.plugins : [lookupPlugin(reg, name)];
  return entries.map((e) => {
    const dir = paths.pluginDir(e.name);
    const isLink = lstatSync(dir, { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
    const linked = e.kind === "linked" && isLink;
    // existsSync follows the link: false for a live link whose source folder was deleted.
    const present = existsSync(dir);
    const integrity = e.integrity ?? {};
    const files = Object.entries(integrity).map(([binary, expected]) => {
      if (!present) return { binary, status: "missing" as const, expected, actual: null };
      let r;
      try {
        r = resolveInside(dir, binary);
      } catch {
        return { binary, status: "missing" as const, expected, actual: null };
      }
      if (!("path" in r)) return { binary, status: "escapes" as const, expected, actual: null };
      let actual: string;
      try {
        actual = sha256File(r.path);
      } catch {
        return { binary, status: "missing" as const, expected, actual: null };
      }
      return { binary, status: actual === expected ? ("ok" as const) : ("modified" as const), expected, actual };
    });
    let status: VerifyRow["status"];
    if (linked) status = present ? "linked" : "failed";
    else if (!present && isLink) status = "failed";
    else status = files.length === 0 ? "unknown" : files.every((f) => f.status === "ok") ? "ok" : "failed";
    let target: string | null = null;
    if (isLink) {
      try {
        target = readlinkSync(dir);
      } catch {
        target = null;
      }
    }
    return { name: e.name, status, kind: kindOf(e), linked, link_target: isLink ? target : null, link_target_exists: isLink ? present : null, files };
  });
}
