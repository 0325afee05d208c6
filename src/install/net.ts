/**
 * What every network operation of the installer shares: the one function that makes a
 * URL safe to print, the idle timeout, and a body reader that enforces both the idle
 * timeout and a size cap while streaming.
 *
 * Attacks these answer: a redirect to `https://user:pass@host/x?X-Amz-Signature=...`
 * that fails must not print the credentials or the signature (a signed URL is a
 * bearer token); a server that accepts the connection and then sends nothing (no
 * headers, or a body that stops after 100 bytes) must not hang fledge; a server that
 * answers an API call with 400 MiB of JSON must not take fledge's memory with it.
 */
import { FledgeError } from "../core/index.ts";

export { redactUrl, redactUrls } from "../ui/index.ts";

export const DEFAULT_IDLE_TIMEOUT_S = 30;
export const IDLE_ENV = "FLEDGE_NETWORK_IDLE_TIMEOUT";

/** Seconds without a byte before a network operation is given up (`FLEDGE_NETWORK_IDLE_TIMEOUT`, default 30). */
export function idleTimeoutSeconds(env: NodeJS.ProcessEnv): number {
  const raw = env[IDLE_ENV]?.trim();
  if (!raw) return DEFAULT_IDLE_TIMEOUT_S;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 86_400) {
    throw new FledgeError(`${IDLE_ENV}=${JSON.stringify(raw)} is not a number of seconds`, { code: "invalid_config", hint: `set it to a positive number of seconds, e.g. ${IDLE_ENV}=60, or unset it for the default (${DEFAULT_IDLE_TIMEOUT_S})` });
  }
  return n;
}

/** The error for a stall: which operation, which idle time, and how to change it. */
export function idleError(what: string, seconds: number): FledgeError {
  return new FledgeError(`${what}: no data for ${seconds} s (the network idle timeout); giving up`, {
    code: "network_timeout",
    hint: `check your network connection; to wait longer, set ${IDLE_ENV}=<seconds> (now ${seconds})`,
  });
}

/** The error for a body over its cap. */
export function tooLargeError(what: string, cap: number): FledgeError {
  return new FledgeError(`${what} is larger than ${Math.round(cap / 1024 / 1024)} MiB, fledge's cap for it; refusing it`, {
    code: "download_too_large",
    hint: "the server sent far more than such a response should hold; if this is a real plugin, report it to its author",
  });
}

/**
 * A timer that fires `onIdle` after `ms` without `touch()`. Used around fetch (until the
 * headers arrive), around each body read, and around git child processes.
 */
export function idleWatch(ms: number, onIdle: () => void): { touch: () => void; stop: () => void; fired: () => boolean } {
  let fired = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      fired = true;
      onIdle();
    }, ms);
  };
  arm();
  return {
    touch: () => {
      if (!fired) arm();
    },
    stop: () => {
      if (timer) clearTimeout(timer);
    },
    fired: () => fired,
  };
}

/**
 * Read `body` chunk by chunk, calling `onChunk` for each, refusing more than `cap`
 * bytes as they arrive (never after buffering) and giving up after `idleMs` without a
 * byte. The caller's AbortController is aborted on either, so the connection closes.
 */
export async function readBody(
  body: ReadableStream<Uint8Array>,
  opts: { cap: number; idleMs: number; what: string; abort: AbortController; onChunk: (chunk: Uint8Array, total: number) => void | Promise<void> },
): Promise<number> {
  const reader = body.getReader();
  let total = 0;
  const watch = idleWatch(opts.idleMs, () => {
    opts.abort.abort();
    reader.cancel().catch(() => undefined);
  });
  try {
    for (;;) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        if (watch.fired()) throw idleError(opts.what, opts.idleMs / 1000);
        throw e;
      }
      if (watch.fired()) throw idleError(opts.what, opts.idleMs / 1000);
      if (r.done) break;
      watch.touch();
      total += r.value.length;
      if (total > opts.cap) {
        opts.abort.abort();
        throw tooLargeError(opts.what, opts.cap);
      }
      await opts.onChunk(r.value, total);
    }
    return total;
  } finally {
    watch.stop();
    reader.cancel().catch(() => undefined);
  }
}

/**
 * git's own stall rule for http(s) remotes: abort when under 1 byte/s for the idle
 * time. git:// and ssh remotes have no such setting, so `watchChild` also runs.
 */
export function gitNetworkArgs(seconds: number): string[] {
  return ["-c", "http.lowSpeedLimit=1", "-c", `http.lowSpeedTime=${Math.max(1, Math.ceil(seconds))}`];
}

/**
 * Kill a network child process (git clone, git ls-remote) after `seconds` without any
 * output from it. Clone runs with --progress, so a transfer that moves prints.
 */
export function watchChild(child: { kill(signal?: NodeJS.Signals): boolean; stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null; on(event: "close", cb: () => void): unknown }, seconds: number): { fired: () => boolean } {
  const watch = idleWatch(seconds * 1000, () => child.kill("SIGKILL"));
  child.stdout?.on("data", watch.touch);
  child.stderr?.on("data", watch.touch);
  child.on("close", watch.stop);
  return { fired: watch.fired };
}
