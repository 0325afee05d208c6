import pkg from "../package.json" with { type: "json" };

declare const FLEDGE_BUILD_COMMIT: string | undefined;

export const FLEDGE_VERSION: string = pkg.version;

/** The commit the binary was built from, injected by scripts/build.ts; "source" when run from a checkout. */
export const FLEDGE_COMMIT: string = typeof FLEDGE_BUILD_COMMIT === "string" ? FLEDGE_BUILD_COMMIT : "source";
