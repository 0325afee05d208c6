// The compiled binary's probe child for `fledge canary --native` (main.ts starts it by flag).
export { runProbeChild } from "../canary/probe-main.ts";
