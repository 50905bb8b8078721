/**
 * Baseline (a): the practical floor for Node. One Redis subscriber per process, each message
 * serialised once, then `send` in a loop over the clients.
 */
import { Redis } from "ioredis";
import { WebSocketServer } from "ws";
import { rawChannel } from "../protocol";

const subscriber = new Redis(process.env.REDIS_URL as string);
await subscriber.subscribe(rawChannel);
const wss = new WebSocketServer({ port: Number(process.env.PORT), perMessageDeflate: false, maxPayload: 65_536 }, () =>
  process.send?.({ type: "ready" }),
);
subscriber.on("message", (_channel: string, text: string) => {
  const frame = JSON.stringify({ type: "broadcast", data: text });
  for (const client of wss.clients) if (client.readyState === 1) client.send(frame);
});

process.on("SIGTERM", () => process.exit(0));
