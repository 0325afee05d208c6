/**
 * A real pseudo-terminal for prompt tests: runs a shell command under util-linux
 * `script`, optionally types keys at once (typeahead), and types `answer` once
 * `question` is on screen (null closes the input instead). Returns what the terminal
 * showed and script's exit code.
 */
export const SCRIPT = Bun.which("script");

export interface PtyRun {
  code: number;
  screen: string;
}

export async function answerOnPty(
  cmd: string,
  opts: { env: Record<string, string | undefined>; cwd: string; typeahead?: string; answer?: string | null; question?: string },
): Promise<PtyRun> {
  const question = opts.question ?? "[y/N]";
  const proc = Bun.spawn([SCRIPT!, "-qefc", cmd, "/dev/null"], { env: opts.env, cwd: opts.cwd, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  if (opts.typeahead) {
    proc.stdin.write(opts.typeahead);
    await proc.stdin.flush();
  }
  let screen = "";
  let typed = opts.answer === undefined;
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    screen += decoder.decode(value, { stream: true });
    if (!typed && screen.includes(question)) {
      typed = true;
      if (opts.answer === null) proc.stdin.end();
      else {
        proc.stdin.write(opts.answer!);
        await proc.stdin.flush();
      }
    }
  }
  const code = await proc.exited;
  try {
    proc.stdin.end();
  } catch {
    // already closed
  }
  return { code, screen };
}
