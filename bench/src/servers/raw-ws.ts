/**
 * Baseline (a): the practical floor for Node. One Redis subscriber per process; each message is
 * serialised and encoded once into a Buffer, and that same Buffer is handed to every client's `send`
 * in a loop (as Plauder's direct fan-out does), written out as a text frame.
 */
import { Redis } from "ioredis";
import { WebSocketServer } from "ws";
import { rawChannel } from "../protocol";

// A Buffer goes out as a text frame (the clients expect text), written as is, not copied per client.
const textFrame = { binary: false } as const;

const subscriber = new Redis(process.env.REDIS_URL as string);
await subscriber.subscribe(rawChannel);
const wss = new WebSocketServer({ port: Number(process.env.PORT), perMessageDeflate: false, maxPayload: 65_536 }, () =>
  process.send?.({ type: "ready" }),
);
subscriber.on("message", (_channel: string, text: string) => {
  const frame = Buffer.from(JSON.stringify({ type: "broadcast", data: text }));
  for (const client of wss.clients) if (client.readyState === 1) client.send(frame, textFrame);
});

process.on("SIGTERM", () => process.exit(0));
