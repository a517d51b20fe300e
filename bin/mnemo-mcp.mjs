#!/usr/bin/env node
// The package's `mnemo-mcp` command: runs bin/mcp.ts through tsx, resolved from this package's
// own node_modules, so a desktop client can start it from any working directory.
import { register } from "tsx/esm/api";

register();
await import("./mcp.ts");
