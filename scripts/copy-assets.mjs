// Copies the non-TypeScript files the compiled services read at run time into dist/.
import { cpSync } from "node:fs";

cpSync("schema", "dist/schema", { recursive: true, filter: (source) => !source.endsWith(".md") });
console.log("copied schema/ to dist/schema/");
// Worker threads load plain JavaScript (see subgraphs/memory/analysis/worker.mjs).
cpSync("subgraphs/memory/analysis/worker.cjs", "dist/subgraphs/memory/analysis/worker.cjs");
cpSync("subgraphs/memory/analysis/worker.mjs", "dist/subgraphs/memory/analysis/worker.mjs");
cpSync("subgraphs/memory/analysis/onnx-model.mjs", "dist/subgraphs/memory/analysis/onnx-model.mjs");
console.log("copied the memory analysis worker to dist/");
// The GraphiQL page's start script is served as a file (gateway/graphiql/index.ts).
cpSync("gateway/graphiql/browser.js", "dist/gateway/graphiql/browser.js");
console.log("copied the GraphiQL start script to dist/");
