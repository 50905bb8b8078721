/**
 * Baseline (b): Socket.IO 4 with the Redis adapter, as its documentation recommends for production:
 * WebSocket transport only, no per-message deflate, a bounded message size.
 */
import { socketIoKey } from "../protocol";
import { socketIoServer } from "./socketio-server";

const port = Number(process.env.PORT);
const { http } = socketIoServer(process.env.REDIS_URL as string, socketIoKey);
http.listen(port, () => process.send?.({ type: "ready" }));

process.on("SIGTERM", () => process.exit(0));
