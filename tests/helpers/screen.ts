/**
 * A real terminal emulator (tmux) of a fixed size, for tests that check what a user
 * sees: the screen as rows (`screen()`), the same with the terminal's own soft wraps
 * joined (`joined()`: fewer rows than `screen()` means some line was wider than the
 * terminal and the terminal broke it), and with colour (`colored()`).
 */
export const TMUX = Bun.which("tmux");

export interface Screen {
  /** Type keys (tmux key names or literal text with `literal`). */
  keys(keys: string, literal?: boolean): void;
  /** The visible rows, trailing blank rows dropped. */
  screen(): string[];
  /** Rows with the terminal's soft wraps joined back into the lines that were written. */
  joined(): string[];
  /** Rows with colour escapes as tmux renders them. */
  colored(): string[];
  /** Wait until `text` is on the screen (throws after `timeoutMs`). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<string[]>;
  /** Wait for the command to finish; resolves its exit code. */
  exited(timeoutMs?: number): Promise<number>;
  close(): void;
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Run `cmd` (a shell command) in a `cols`×`rows` terminal with exactly `env`. */
export function openScreen(cmd: string, opts: { cols?: number; rows?: number; env: Record<string, string>; cwd: string }): Screen {
  const sock = `fledge-screen-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const tmux = (...args: string[]): string => {
    const p = Bun.spawnSync([TMUX!, "-L", sock, "-f", "/dev/null", ...args], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TERM: "xterm-256color", HOME: opts.env.HOME ?? "/tmp" } });
    return p.stdout.toString();
  };
  const exports = Object.entries(opts.env).map(([k, v]) => `export ${k}=${shq(v)};`).join(" ");
  // The exit code goes to a marker line; the pane then stays open to be inspected.
  const script = `unset TMUX TMUX_PANE; ${exports} cd ${shq(opts.cwd)} && ${cmd}; printf '\\n[exit %s]' "$?"; sleep 600`;
  tmux("new-session", "-d", "-x", String(opts.cols ?? 80), "-y", String(opts.rows ?? 50), "-s", "t", "sh", "-c", script);
  const rows = (extra: string[]): string[] => {
    const lines = tmux("capture-pane", "-p", "-t", "t", ...extra).split("\n");
    while (lines.length && lines.at(-1)!.trim() === "") lines.pop();
    return lines;
  };
  const screen = () => rows([]);
  return {
    keys: (keys, literal) => void tmux("send-keys", "-t", "t", ...(literal ? ["-l"] : []), keys),
    screen,
    joined: () => rows(["-J"]),
    colored: () => rows(["-e"]),
    async waitFor(text, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const s = screen();
        const all = s.join("\n");
        if (typeof text === "string" ? all.includes(text) : text.test(all)) return s;
        if (Date.now() > until) throw new Error(`timed out waiting for ${String(text)}; screen:\n${all}`);
        await Bun.sleep(100);
      }
    },
    async exited(timeoutMs = 60_000) {
      const s = await this.waitFor(/\[exit \d+\]/, timeoutMs);
      return Number(/\[exit (\d+)\]/.exec(s.join("\n"))![1]);
    },
    close: () => void tmux("kill-server"),
  };
}
