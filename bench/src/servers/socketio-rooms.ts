/**
 * The channels benchmark's baseline: rooms with Socket.IO 4 and its Redis adapter, written the way
 * its documentation suggests for production: WebSocket transport only, no per-message deflate, a
 * bounded message size, the Redis adapter on ioredis. A client authenticates with the same access
 * token as Plauder's (checked once, at connect), joins rooms with `socket.join(room)`, and publishes
 * with a "publish" event whose ack callback answers after `io.to(room).emit("message", …)`.
 *
 * What it does not do, and Plauder does: check room membership (on join or publish), rate-limit
 * publishers, give publications an order or an offset, store them, or replay them on resume.
 */
import { readAccessToken } from "@plauder/auth";
import { socketIoServer } from "./socketio-server";

const port = Number(process.env.PORT);
const redisUrl = process.env.REDIS_URL as string;
const key = `${process.env.BENCH_PREFIX ?? "bench:"}socket.io-rooms`;
const maxText = 4_096;

type User = { id: string; name: string };

const { http, io } = socketIoServer(redisUrl, key);

io.use((socket, next) => {
  const token = (socket.handshake.auth as { token?: unknown }).token;
  readAccessToken(token).then(
    (credential) => {
      if (!credential) return next(new Error("Sign in first"));
      socket.data.user = { id: credential.user.id, name: credential.user.name } satisfies User;
      next();
    },
    () => next(new Error("Sign in first")),
  );
});

io.on("connection", (socket) => {
  socket.on("join", (rooms: unknown, ack: unknown) => {
    if (typeof ack !== "function") return;
    if (!Array.isArray(rooms) || rooms.length > 50 || !rooms.every((room) => typeof room === "string")) {
      return ack({ error: "rooms must be a list of at most 50 names" });
    }
    socket.join(rooms as string[]);
    ack({ joined: rooms.length });
  });

  socket.on("publish", (message: unknown, ack: unknown) => {
    if (typeof ack !== "function") return;
    const { room, text } = (message ?? {}) as { room?: unknown; text?: unknown };
    if (typeof room !== "string" || typeof text !== "string" || text.length === 0 || text.length > maxText) {
      return ack({ error: "publish needs a room and a text of 1 to 4096 characters" });
    }
    const sentAt = Date.now();
    io.to(room).emit("message", { room, text, sender: socket.data.user as User, sentAt });
    ack({ sentAt });
  });
});

http.listen(port, "127.0.0.1", () => process.send?.({ type: "ready" }));

process.on("message", (message: { type?: string }) => {
  if (message?.type === "stats") process.send?.({ type: "stats", sockets: io.engine.clientsCount });
});
process.on("SIGTERM", () => process.exit(0));
