/**
 * Blocking exec for the wasm imports. A guest calling `fledge.exec` is suspended in
 * a synchronous host call, so the event loop cannot run the command. A worker runs
 * the very same async {@link runExec} (concurrent pipe reads, caps, process group,
 * timeout) while this thread sleeps; the worker plumbing (bounded start-up and result
 * waits, the compiled-binary worker path) is sync-worker.ts, shared with http-sync.ts.
 */
import { execTimeoutMs, type ExecContext, type ExecRequest, type ExecResult } from "./exec.ts";
import type { ExecWorkerRequest } from "./exec-worker.ts";
import { callWorkerSync, lazySyncWorker } from "./sync-worker.ts";

/** Beyond the exec's own timeout: time to kill the group and drain the pipes. */
const RESULT_MARGIN_MS = 15_000;

const execWorker = lazySyncWorker("exec-worker.ts");

function failed(why: string): ExecResult {
  return { code: 1, stdout: "", stderr: `exec failed: ${why}` };
}

/** A plain copy (process.env is not cloneable into a worker message as is). */
function envRecord(env: ExecContext["env"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env ?? process.env)) if (v !== undefined) out[k] = v;
  return out;
}

function isExecResult(x: unknown): x is ExecResult {
  if (typeof x !== "object" || x === null) return false;
  const r = x as Record<string, unknown>;
  return typeof r.code === "number" && typeof r.stdout === "string" && typeof r.stderr === "string";
}

/** {@link runExec}, blocking. An already-aborted signal interrupts; a later abort cannot be observed while blocked. */
export function runExecSync(request: ExecRequest, ctx: ExecContext): ExecResult {
  if (ctx.signal?.aborted) return { code: 130, stdout: "", stderr: "command interrupted" };
  const w = execWorker();
  if (!w) return failed("the exec helper worker could not be started");
  const body: Omit<ExecWorkerRequest, "flag" | "port"> = {
    request,
    ctx: { projectRoot: ctx.projectRoot, pluginDir: ctx.pluginDir, maxOutputBytes: ctx.maxOutputBytes, env: envRecord(ctx.env), confinement: ctx.confinement },
  };
  const { waited, received } = callWorkerSync(w, body, execTimeoutMs(request.timeout) + RESULT_MARGIN_MS);
  if (waited === "timed-out" && !received) return failed("no result from the exec helper worker");
  const result: unknown = received?.message;
  return isExecResult(result) ? result : failed("no result from the exec helper worker");
}
