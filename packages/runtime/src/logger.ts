import { type Logger, pino } from "pino";
import { getEnv } from "./env";
import { getInstanceId } from "./instance";
import { processSingleton } from "./singleton";

export type { Logger };

/**
 * The process logger: JSON lines tagged with the instance id. Secrets are redacted by path as a
 * second line of defence; the first is never passing them to the logger.
 */
export function getLogger(): Logger {
  return processSingleton("logger", () =>
    pino({
      level: getEnv().LOG_LEVEL,
      base: { instance: getInstanceId() },
      redact: { paths: ["password", "token", "*.password", "*.token", "secret", "*.secret"], censor: "[redacted]" },
    }),
  );
}
