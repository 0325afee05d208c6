/**
 * "Expect a FledgeError": the one helper for a call that must fail with fledge's own
 * error (any other throw is a bug and is rethrown, so the test shows it).
 */
import { FledgeError } from "../../src/core/index.ts";

/** The FledgeError `fn` throws; fails the test when it returns or throws anything else. */
export function expectFledgeError(fn: () => unknown): FledgeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FledgeError) return e;
    throw e;
  }
  throw new Error("expected a FledgeError, but the call returned");
}

/** The FledgeError `p` rejects with; fails the test when it resolves or rejects with anything else. */
export async function expectFledgeRejection(p: Promise<unknown>): Promise<FledgeError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FledgeError) return e;
    throw e;
  }
  throw new Error("expected a FledgeError, but the promise resolved");
}
