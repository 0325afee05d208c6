/**
 * The slow tier: tests that need whole real processes by design (kill -9 at every
 * syscall, a real C program compared with native runs, the compiled binary). They run
 * in `npm test` (and CI) as before; `npm run test:fast` (FLEDGE_FAST_TESTS=1) leaves
 * them out for a quick loop while developing.
 */
import { describe } from "bun:test";

export const FAST_ONLY = process.env.FLEDGE_FAST_TESTS === "1";

/** `describe` for a slow-tier group: skipped under FLEDGE_FAST_TESTS=1. */
export const describeSlow: typeof describe = FAST_ONLY ? (describe.skip as typeof describe) : describe;
