#!/usr/bin/env bun
// Entry point for `bunx fledge` / npm installs: run the TypeScript sources with Bun.
import "./main.ts";
