import type { ChatChunk } from "../src";

export interface Collected {
  deltas: string[];
  done: Extract<ChatChunk, { type: "done" }> | undefined;
  error: unknown;
}

/** Reads a stream to its end (or error), keeping the deltas, the done chunk and the error. */
export async function collect(stream: AsyncIterable<ChatChunk>): Promise<Collected> {
  const result: Collected = { deltas: [], done: undefined, error: undefined };
  try {
    for await (const chunk of stream) {
      if (chunk.type === "delta") result.deltas.push(chunk.text);
      else result.done = chunk;
    }
  } catch (error) {
    result.error = error;
  }
  return result;
}

export const messages = [
  { role: "system" as const, content: "Du bist ein freundlicher Deutschlehrer." },
  { role: "user" as const, content: "Hallo, wie geht's?" },
];

/** `promise`, or a rejection naming `what` once `ms` pass: a test that waits for something that never comes fails fast. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
