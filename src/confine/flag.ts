/** argv[2] that selects launcher mode in a compiled fledge (`fledge __fledge-confine`); a module of its own so main.ts loads nothing more to check it. */
export const LAUNCHER_FLAG = "__fledge-confine";
/** The variable carrying the launch spec to the launcher (its only environment). */
export const SPEC_VAR = "FLEDGE_CONFINE_SPEC";
/** argv[2] for the canary's probe child (`fledge canary --native` runs it confined). */
export const CANARY_PROBES_FLAG = "__fledge-canary-probes";
