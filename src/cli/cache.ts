import { defineCommand } from "citty";
import { cleanCache, listCache, type CacheEntryInfo } from "../install/cache.ts";
import { userCacheDir } from "../wasm/prepared.ts";
import { configDir } from "../registry/index.ts";
import { EXIT, printJson, printResult } from "../ui/index.ts";
import { formatTable, terminalColumns } from "../ui/table.ts";

/** 1536 → "1.5 KiB". */
export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

function usedBy(e: CacheEntryInfo): string {
  if (e.temp) return e.temp.alive ? `(being written by process ${e.temp.pid})` : "(temp file of a dead writer)";
  if (e.source_sha256 === null) return "(not a fledge entry)";
  return e.plugins.length ? e.plugins.join(", ") : "(no installed plugin)";
}

const list = defineCommand({
  meta: { name: "list", description: "List the prepared-module cache: each entry's size, when it was written and which installed plugins use it. Example: fledge cache list --json" },
  args: {
    json: { type: "boolean", description: "print one JSON object: {schema_version, dir, total_bytes, entries: [...]}" },
  },
  run({ args }) {
    const entries = listCache(process.env);
    const total = entries.reduce((n, e) => n + e.size, 0);
    const dir = userCacheDir(configDir(process.env));
    if (args.json) {
      printJson({ dir, total_bytes: total, entries: entries.map(({ path: _path, ...e }) => e) });
      return EXIT.ok;
    }
    if (entries.length === 0) {
      printResult(`The prepared-module cache is empty (${dir}).`);
      return EXIT.ok;
    }
    const rows = entries.map((e) => [humanBytes(e.size), e.written.slice(0, 16).replace("T", " "), e.source_sha256 ? e.source_sha256.slice(0, 12) : e.file.slice(0, 12), usedBy(e)]);
    const orphans = entries.filter((e) => !e.temp && e.source_sha256 !== null && e.plugins.length === 0).length;
    printResult(
      [
        `Prepared-module cache: ${entries.length} file(s), ${humanBytes(total)} in ${dir}`,
        formatTable(["SIZE", "WRITTEN (UTC)", "MODULE", "USED BY"], rows, { width: terminalColumns(), overflow: "wrap" }),
        orphans ? `${orphans} entr${orphans === 1 ? "y is" : "ies are"} used by no installed plugin: 'fledge cache clean' removes them.` : "",
      ]
        .filter((l) => l !== "")
        .join("\n"),
    );
    return EXIT.ok;
  },
});

const clean = defineCommand({
  meta: {
    name: "clean",
    description:
      "Remove cache entries no installed plugin uses (with --all, every entry: they are prepared again on the next run). Never removes a file another fledge is writing. Example: fledge cache clean --all",
  },
  args: {
    all: { type: "boolean", description: "also remove the entries of installed plugins" },
    json: { type: "boolean", description: "print one JSON object: {schema_version, removed: [...], kept: [...], freed_bytes}" },
  },
  async run({ args }) {
    const r = await cleanCache(process.env, { all: args.all === true });
    if (args.json) {
      printJson({ removed: r.removed.map(({ path: _p, ...e }) => e), kept: r.kept.map(({ path: _p, ...e }) => e), freed_bytes: r.freed_bytes });
      return EXIT.ok;
    }
    const lines = [`Removed ${r.removed.length} cache file(s), ${humanBytes(r.freed_bytes)} freed.`];
    if (r.kept.length) lines.push(`Kept ${r.kept.length}: ${[...new Set(r.kept.map((k) => k.why))].join("; ")}${args.all ? "" : " (--all removes those too)"}`);
    printResult(lines.join("\n"));
    return EXIT.ok;
  },
});

export default defineCommand({
  meta: { name: "cache", description: "Show and clean the prepared-module cache (wasm modules prepared at install or first run)" },
  subCommands: { list, clean },
});
