/**
 * `npm run mcp` (or `mnemo-mcp`, the package's bin): Mnemo's MCP server on stdio, configured by
 * MNEMO_URL (default http://127.0.0.1:4000/graphql) and MNEMO_TOKEN. See mcp/stdio.ts.
 */
import { readStdioSettings, runStdioServer } from "../mcp/stdio.js";

const settings = readStdioSettings(process.env);
if (Array.isArray(settings)) {
  console.error(`mnemo-mcp cannot start:\n${settings.map((problem) => `  - ${problem}`).join("\n")}`);
  process.exit(1);
}
const close = await runStdioServer(settings);
// The client ends the session by closing stdin (or with a signal): release the WebSocket and exit.
const stop = () => {
  close().finally(() => process.exit(0));
};
process.stdin.on("end", stop);
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
