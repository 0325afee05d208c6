// Entry of the confinement launcher when fledge runs from source (`bun src/main.ts`):
// a file of its own, so starting it loads nothing but the launcher.
import { runLauncher } from "./launcher.ts";

runLauncher();
