import type { Logger } from "@plauder/runtime";
import type { z } from "zod";

/**
 * Reads a message that arrived on the bus. Anything with access to Redis can publish there, so a
 * message that is not JSON of the expected shape is logged and dropped, never trusted.
 */
export function parseBusMessage<T>(schema: z.ZodType<T>, payload: string, log: Logger, what: string): T | null {
  try {
    return schema.parse(JSON.parse(payload));
  } catch {
    log.warn(`ignored a malformed ${what} from the bus`);
    return null;
  }
}

/** Calls every listener with the value; one that throws is logged and does not stop the others. */
export function notifyEach<T>(listeners: Iterable<(value: T) => void>, value: T, log: Logger, what: string): void {
  for (const listener of listeners) {
    try {
      listener(value);
    } catch (error) {
      log.error({ err: (error as Error).message }, `${what} failed`);
    }
  }
}
