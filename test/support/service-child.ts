/**
 * The child side of ServiceProcess: starts Mnemo services (from argv, e.g. "memory" or
 * "state,memory,cache-admin") with the configuration in its environment, reports their URLs to
 * the parent over IPC, and stops cleanly when the parent says "stop".
 */
import { startStack } from "../../bin/stack.js";
import { loadConfig, type ServiceName } from "../../core/config.js";

const services = (process.argv[2] ?? "").split(",") as ServiceName[];
const config = loadConfig(process.env, { services });
const stack = await startStack(config, { services });
const urls = Object.fromEntries(Object.entries(stack.services).map(([name, service]) => [name, service.url]));
process.send?.({ type: "ready", urls });
// A parent that dies without saying "stop" must not leave the services running.
process.once("disconnect", () => process.exit(1));
process.on("message", (message) => {
  if (message !== "stop") return;
  stack.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
