/** Remove every ANSI escape sequence (for text fledge itself coloured). */
export function stripAnsi(text: string): string {
  // CSI, OSC (BEL or ST terminated), and two-byte ESC sequences.
  return text.replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g, "");
}
