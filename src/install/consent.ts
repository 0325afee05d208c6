/**
 * What the user is asked before a plugin is installed or updated, and the one
 * decision of whether the flags given (or an interactive answer) amount to consent.
 *
 * Two kinds of consent:
 * - general (capabilities, hooks, an auto-detected build): `--yes` or an interactive yes;
 * - native (the plugin runs unsandboxed): `--trust-native` or an interactive yes.
 *   `--yes` alone never covers it (nativeConsentGiven is the trust part's rule).
 * A wasm plugin asking for nothing and running no hooks needs no consent at all: it
 * can do nothing outside the sandbox.
 */
import { confinementState, describeConfinement } from "../confine/index.ts";
import { describeConfinementNeeds, type Capabilities, type ConfinementNeeds, type HookName, type Hooks, type Runtime } from "../manifest/index.ts";
import { describeCapabilities, describeRuntime, nativeConsentGiven, type PolicyDecision, type TrustTier } from "../trust/index.ts";
import { FledgeError } from "../core/index.ts";
import { canPrompt, confirm } from "../ui/index.ts";
import { renderUntrusted, terminalText } from "../ui/sanitize.ts";
import { HOOK_WHEN } from "./hook-when.ts";
import type { AutoBuild } from "./hooks.ts";
import { terminalColumns, wrapBlock } from "../ui/table.ts";

export interface ConsentSubject {
  action: "install" | "update";
  name: string;
  version: string;
  source: string;
  tier: TrustTier;
  runtime: Runtime;
  decision: PolicyDecision;
  /** Capabilities to grant (for an update: only the ones being added). */
  capabilities: Capabilities;
  /** Hooks to approve (for an update: only new or changed ones). */
  hooks: { event: HookName; command: string }[];
  autoBuild: AutoBuild | null;
  /** For an update: whether the runtime becomes native (a native plugin already approved needs no new native consent). */
  nativeIsNew: boolean;
  /** `[confinement]` extras to grant (for an update: only new ones) and the --unconfined choice. */
  confinement?: { needs: ConfinementNeeds; unconfined: boolean } | undefined;
}

export interface ConsentFlags {
  yes: boolean;
  trustNative: boolean;
  /** `--unconfined`: run the native plugin without confinement (asked separately). */
  unconfined?: boolean | undefined;
}

export function listHooks(hooks: Hooks): { event: HookName; command: string }[] {
  return (Object.entries(hooks) as [HookName, string | undefined][])
    .filter((e): e is [HookName, string] => typeof e[1] === "string" && e[1].trim() !== "")
    .map(([event, command]) => ({ event, command }));
}

function anyCapability(c: Capabilities): boolean {
  return c.exec || c.store || c.metadata || c.network || c.filesystem !== "none" || (c.hosts?.length ?? 0) > 0;
}

function anyNeed(s: ConsentSubject): boolean {
  const n = s.confinement?.needs;
  return n !== undefined && n.read.length + n.write.length + n.env.length > 0;
}

export function needsGeneralConsent(s: ConsentSubject): boolean {
  return anyCapability(s.capabilities) || s.hooks.length > 0 || s.autoBuild !== null || anyNeed(s);
}

/** The plain-words confinement lines for a native plugin (what it may and may not reach). */
export function confinementLines(s: Pick<ConsentSubject, "runtime" | "capabilities" | "confinement">): string[] {
  if (s.runtime !== "native") return [];
  const state = confinementState(s.confinement?.unconfined ?? false);
  const lines = [`  confinement: ${describeConfinement(state)}`];
  if (state.kind === "confined") {
    const project = s.capabilities.filesystem === "project" ? "project read-write (not its git hooks or config)" : "project read-only";
    lines.push(`    reads the system and your home except credentials (~/.ssh, ~/.aws, ~/.config/gh, tokens, histories, browser profiles); ${project}; ${s.capabilities.network ? "network allowed" : "no network"}`);
  }
  for (const d of describeConfinementNeeds(s.confinement?.needs ?? { read: [], write: [], env: [] })) lines.push(`    - ${renderUntrusted(d)}`);
  return lines;
}

export function needsNativeConsent(s: ConsentSubject): boolean {
  return s.decision.needsNativeConsent && s.nativeIsNew;
}

/**
 * The text shown before asking (stderr). Plain words, one fact per line. Every value
 * from the manifest or the source is rendered by renderUntrusted: a hook command shows
 * all it contains (`\x1b[2K\r` visible), so what is approved is what runs.
 */
export function renderConsent(s: ConsentSubject): string {
  const u = renderUntrusted;
  // A confined native plugin is not "unsandboxed with your full rights": say what is true here.
  const confinedNative = s.runtime === "native" && confinementState(s.confinement?.unconfined ?? false).kind === "confined";
  const runtime = confinedNative ? "native: runs as an ordinary program, confined by the kernel (see confinement below)" : describeRuntime(s.runtime);
  const lines = [`${s.action === "install" ? "Installing" : "Updating"} ${u(s.name)} ${u(s.version)} from ${u(s.source)} [${s.tier}]`, `  runtime: ${runtime}`];
  const caps = describeCapabilities(s.capabilities);
  lines.push(caps.length ? `  ${s.action === "update" ? "new capabilities" : "capabilities"}:` : "  capabilities: none");
  for (const c of caps) lines.push(`    - ${c}`);
  lines.push(...confinementLines(s));
  if (s.hooks.length > 0) {
    const rights = confinementState(s.confinement?.unconfined ?? false).kind === "confined" ? "confined: their folder, no credentials" : "with your full user rights";
    lines.push(`  ${s.action === "update" ? "new or changed hooks" : "hooks"} (run ${rights}, without a shell):`);
    // Each with when it runs: nobody approves a hook without knowing what triggers it.
    for (const h of s.hooks) lines.push(`    - ${h.event}: ${u(h.command)}`, `      (${HOOK_WHEN[h.event]})`);
  }
  if (s.autoBuild) lines.push(`  build: no build hook, so fledge will run '${u(s.autoBuild.command)}' (${s.autoBuild.language} project detected); it runs the project's own build code`);
  for (const m of s.decision.messages) {
    const text = confinedNative && m.startsWith("native plugin:") ? "native plugin: it runs as an ordinary program, confined as shown above; installing it needs --trust-native or an interactive yes, --yes alone is not enough" : m;
    lines.push(`  ! ${terminalText(text)}`);
  }
  return lines.join("\n");
}

/** Every consent question goes through the one fail-closed prompt (ui/prompt.ts): default No, drawn on stderr. */
function ask(s: ConsentSubject, question: string): Promise<boolean> {
  return confirm(question, `${s.action} of ${renderUntrusted(s.name)}`);
}

/**
 * THE consent decision. Shows the subject, then either accepts the flags, asks on a
 * TTY, or fails naming every flag that would grant what is missing. Throws
 * FledgeError `consent_required` (non-interactive) or `consent_declined`.
 */
export async function obtainConsent(s: ConsentSubject, flags: ConsentFlags, interactive: boolean = canPrompt()): Promise<void> {
  const general = needsGeneralConsent(s);
  const native = needsNativeConsent(s);
  const unconfined = s.confinement?.unconfined === true && s.runtime === "native";
  if (!general && !native && !unconfined) return;
  // Wrapped at word boundaries to the terminal (never mid-word by the terminal itself).
  process.stderr.write(`${wrapBlock(terminalText(renderConsent(s)), terminalColumns(process.stderr))}\n`);
  const generalOk = !general || flags.yes;
  const nativeOk = !native || nativeConsentGiven({ trustNative: flags.trustNative, confirmedInteractively: false, yes: flags.yes });
  // --unconfined is approved by --trust-native (never by --yes), or by its own question.
  const unconfinedOk = !unconfined || flags.trustNative;
  if (generalOk && nativeOk && unconfinedOk) return;
  if (!interactive) {
    const missing = [...(nativeOk && unconfinedOk ? [] : ["--trust-native"]), ...(generalOk ? [] : ["--yes"])];
    const what = [...(nativeOk ? [] : ["running a native plugin"]), ...(unconfinedOk ? [] : ["running it unconfined"]), ...(generalOk ? [] : ["the capabilities and hooks above"])].join(" and ");
    throw new FledgeError(`${s.action} of ${s.name} needs your consent to ${what}, and fledge cannot ask without a terminal`, {
      code: "consent_required",
      hint: `rerun with ${missing.join(" ")} to accept${missing.includes("--trust-native") ? " (--yes alone never approves native code)" : ""}`,
    });
  }
  if (!generalOk && !(await ask(s, s.action === "install" ? "Grant these capabilities and approve these hooks?" : "Grant the new capabilities and approve the changed hooks?"))) {
    throw new FledgeError(`${s.action} of ${s.name} cancelled`, { code: "consent_declined" });
  }
  const confined = confinementState(s.confinement?.unconfined ?? false).kind === "confined";
  const how = confined ? "will run natively, confined by the kernel (see above)" : "will run unsandboxed with your full user rights";
  if (!nativeOk && !nativeConsentGiven({ trustNative: false, confirmedInteractively: await ask(s, `${renderUntrusted(s.name)} is a native plugin and ${how}. ${s.action === "install" ? "Install" : "Update"} it anyway?`) })) {
    throw new FledgeError(`${s.action} of ${s.name} cancelled: native plugin not approved`, { code: "consent_declined", hint: "prefer a wasm build of the plugin, which runs sandboxed" });
  }
  if (s.confinement?.unconfined && s.runtime === "native" && !flags.trustNative) {
    const yes = await ask(s, `--unconfined: ${renderUntrusted(s.name)} will run WITHOUT confinement, able to read your keys and tokens and open sockets. Run it unconfined?`);
    if (!yes) throw new FledgeError(`${s.action} of ${s.name} cancelled: running unconfined not approved`, { code: "consent_declined", hint: "install without --unconfined to keep the plugin confined" });
  }
}
