#!/usr/bin/env -S bun --no-env-file --config=/dev/null
// Entry point for `bunx fledge` / npm installs: run the TypeScript sources with Bun.
// The flags on the #! line keep bun from reading the `.env` files and `bunfig.toml` of
// the folder fledge runs in: a plugin may write that folder, and a bunfig `preload`
// would run its code inside fledge, unconfined (src/core/programs.ts: BUN_SAFE_FLAGS).
import "./main.ts";
