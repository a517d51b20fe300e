// Copies the non-TypeScript files the compiled services read at run time into dist/.
import { cpSync } from "node:fs";

cpSync("schema", "dist/schema", { recursive: true, filter: (source) => !source.endsWith(".md") });
console.log("copied schema/ to dist/schema/");
