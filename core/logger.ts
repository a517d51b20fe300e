/**
 * Structured JSON logs (pino). Tokens and the forwarded principal header are redacted; state
 * data and memory content are never logged at info level by the request logger.
 */
import { type Logger, pino } from "pino";
import type { Config } from "./config.js";

export type { Logger };

export function createLogger(config: Pick<Config, "logLevel">, service: string): Logger {
  return pino({
    level: config.logLevel,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ["req.headers.authorization", 'req.headers["x-mnemo-principal"]', "token", "authorization"],
      censor: "[redacted]",
    },
  });
}
