/**
 * Loaded before every test file (bunfig.toml `[test] preload`). Bun 1.4.5 ignores the
 * bunfig `timeout`, so the 5 s default applied to tests that start real processes and
 * failed them on a loaded machine; the default is set here instead. A test that needs
 * more still passes its own timeout.
 */
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(60_000);
