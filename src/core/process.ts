/**
 * Who left a file behind, and whether they are gone. fledge names its leftovers
 * (staging folders, temp files, locks) after the process that made them, so a later
 * run can remove what a killed process left. On a home folder shared between machines
 * (NFS), a pid means nothing on another host: there it may belong to a live install, so
 * only a process on THIS host whose pid is dead is ever presumed gone.
 */
import { sha256Hex } from "./digest.ts";
import { hostname } from "node:os";

/** Is the process alive? kill(pid, 0) probes without signalling; EPERM means it exists. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A short, file-name-safe tag for a host name (8 hex digits of its SHA-256): what names carry. */
export function hostTag(host: string = hostname()): string {
  return sha256Hex(host).slice(0, 8);
}

/** Does `host` (a host name, or its {@link hostTag}) name this machine? */
export function isThisHost(host: string): boolean {
  const here = hostname();
  return host === here || host === hostTag(here);
}

/**
 * THE rule for leftovers: the process that made them is gone only when it ran on this
 * host (by name or tag) and its pid is dead. This process is never gone; a holder on
 * another host is never presumed gone, since it cannot be checked from here.
 */
export function ownerGone(owner: { pid: number; host: string }): boolean {
  if (!isThisHost(owner.host)) return false;
  if (owner.pid === process.pid) return false;
  return !pidAlive(owner.pid);
}
