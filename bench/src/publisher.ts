/**
 * The one publisher for all three systems: open-loop, at a fixed rate, each message carrying its
 * scheduled send time. It injects where each system's own publish path meets Redis: a plain PUBLISH
 * (raw), the Socket.IO Redis emitter, and for Plauder its real publish step (store the broadcast,
 * which fixes its id, then PUBLISH it on the broadcast channel).
 */
import { broadcastChannel, getBroadcastStore } from "@plauder/api";
import { Emitter } from "@socket.io/redis-emitter";
import { Redis } from "ioredis";
import { nowMs, type PublishCommand, payload, rawChannel, socketIoKey } from "./protocol";

const redis = new Redis(process.env.REDIS_URL as string);
const emitter = new Emitter(redis, { key: socketIoKey });
const senderId = process.env.BENCH_USER_ID as string;

async function send(system: PublishCommand["system"], text: string): Promise<void> {
  if (system === "raw") await redis.publish(rawChannel, text);
  else if (system === "socketio") emitter.emit("broadcast", text);
  else {
    const broadcast = await getBroadcastStore().append({ senderId, senderName: "Bench", text, instanceId: "bench" });
    await redis.publish(broadcastChannel(), JSON.stringify(broadcast));
  }
}

async function run(command: PublishCommand): Promise<void> {
  const total = Math.max(1, Math.round(command.rate * command.seconds));
  const interval = 1000 / command.rate;
  const start = nowMs() + 50;
  let maxLagMs = 0;
  for (let i = 0; i < total; i++) {
    const scheduled = start + i * interval;
    const wait = scheduled - nowMs();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    maxLagMs = Math.max(maxLagMs, nowMs() - scheduled);
    // Plauder's store orders publishes, so they go one at a time; the others are fire-and-forget.
    if (command.system === "plauder") await send(command.system, payload(scheduled, command.bytes));
    else void send(command.system, payload(scheduled, command.bytes));
  }
  process.send?.({ type: "published", count: total, maxLagMs });
}

process.on("message", (command: PublishCommand) => void run(command));
process.send?.({ type: "ready" });
