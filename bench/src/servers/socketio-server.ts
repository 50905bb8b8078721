/**
 * Socket.IO 4 with the Redis adapter as its documentation recommends for production, as both
 * Socket.IO baselines run it: WebSocket transport only, no per-message deflate, a bounded message
 * size, the adapter on ioredis under `key`.
 */
import { createServer, type Server as HttpServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";

export function socketIoServer(redisUrl: string, key: string): { http: HttpServer; io: Server } {
  const http = createServer();
  const io = new Server(http, {
    transports: ["websocket"],
    perMessageDeflate: false,
    maxHttpBufferSize: 65_536,
    serveClient: false,
  });
  io.adapter(createAdapter(new Redis(redisUrl), new Redis(redisUrl), { key }));
  return { http, io };
}
