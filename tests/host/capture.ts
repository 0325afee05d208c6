/** A HostIO that records what a plugin run printed. */
import { PluginConsole, type HostIO } from "../../src/host/console.ts";

export interface Captured extends HostIO {
  out: string[];
  err: string[];
}

export function captureIO(interactive = false): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), interactive, color: false };
}

export function captureConsole(name = "demo", interactive = false): { io: Captured; con: PluginConsole } {
  const io = captureIO(interactive);
  return { io, con: new PluginConsole(name, io) };
}
