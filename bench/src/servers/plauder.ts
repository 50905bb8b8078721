/**
 * (c) Plauder: the real realtime server (origin and auth checks, limits, the tRPC WebSocket protocol,
 * the broadcast feed) on a plain HTTP server, without Next's page handling, which plays no part in
 * fan-out. Settings come from the environment like the app's.
 */
import { getEnv } from "@plauder/runtime";
import { servePlauder } from "./plauder-http";

servePlauder(getEnv());
