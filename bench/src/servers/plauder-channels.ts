/**
 * Plauder's realtime server for the channels benchmark: the same server as servers/plauder.ts
 * (origin and auth checks, limits, the tRPC WebSocket protocol, channels, rooms) on a plain HTTP
 * server, plus two read-only hooks for the orchestrator over IPC:
 *
 * - `measure`: memory after a full collection (start node with --expose-gc);
 * - `heap-snapshot`: a V8 heap snapshot after a full collection, written to the path given;
 * - `stats`: channels this instance listens to, and how many channel messages its Redis
 *   subscriber connection received (counted where ioredis emits them, so the figure is what Redis
 *   sent this process, whichever code then handles it).
 */
import { writeHeapSnapshot } from "node:v8";
import { getChannelRegistry } from "@plauder/api";
import { getEnv } from "@plauder/runtime";
import { Redis } from "ioredis";
import { servePlauder } from "./plauder-http";

const env = getEnv();
const channelTopicMark = `${env.REDIS_KEY_PREFIX}{ch:`;
let channelMessagesIn = 0;
const topicsHeard = new Set<string>();

// Counts pub/sub messages on channel topics as ioredis hands them to its listeners. Every Redis
// connection of this process is an ioredis instance, so nothing the bus receives escapes the count.
const emit = Redis.prototype.emit;
Redis.prototype.emit = function countingEmit(this: Redis, event: string | symbol, ...args: unknown[]): boolean {
  if (event === "message" && typeof args[0] === "string" && args[0].startsWith(channelTopicMark)) {
    channelMessagesIn++;
    if (topicsHeard.size < 10_000) topicsHeard.add(args[0]);
  }
  return emit.call(this, event, ...args);
};

servePlauder(env);

const gc = (globalThis as { gc?: () => void }).gc;

process.on("message", (message: { type?: string; topic?: string; path?: string }) => {
  if (message?.type === "heap-snapshot" && message.path) {
    gc?.();
    process.send?.({ type: "heap-snapshot", path: writeHeapSnapshot(message.path) });
    return;
  }
  if (message?.type === "measure") {
    if (!gc) {
      process.send?.({ type: "memory", error: "start the server with --expose-gc" });
      return;
    }
    gc();
    gc();
    const usage = process.memoryUsage();
    process.send?.({
      type: "memory",
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      external: usage.external,
      arrayBuffers: usage.arrayBuffers,
    });
  } else if (message?.type === "stats") {
    process.send?.({
      type: "stats",
      channelsListened: getChannelRegistry().size(),
      channelMessagesIn,
      heardTopic: message.topic ? topicsHeard.has(message.topic) : false,
    });
  }
});
