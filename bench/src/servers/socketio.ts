/**
 * Baseline (b): Socket.IO 4 with the Redis adapter, as its documentation recommends for production:
 * WebSocket transport only, no per-message deflate, a bounded message size.
 */
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { socketIoKey } from "../protocol";

const port = Number(process.env.PORT);
const redisUrl = process.env.REDIS_URL as string;
const http = createServer();
const io = new Server(http, {
  transports: ["websocket"],
  perMessageDeflate: false,
  maxHttpBufferSize: 65_536,
  serveClient: false,
});
io.adapter(createAdapter(new Redis(redisUrl), new Redis(redisUrl), { key: socketIoKey }));
http.listen(port, () => process.send?.({ type: "ready" }));

process.on("SIGTERM", () => process.exit(0));
