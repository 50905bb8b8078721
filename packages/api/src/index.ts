export type { Broadcast } from "./broadcasts/types";
export { closeBus, getBus } from "./bus/index";
export { type Context, createHttpContext } from "./context";
export { tooManyRequests } from "./errors";
export { getHealth, type Health } from "./health";
export { metrics } from "./metrics";
export type { PresenceEvent, PresentUser } from "./presence/index";
export { type AppRouter, appRouter, createCaller } from "./root";
export { logProcedureError } from "./trpc";
