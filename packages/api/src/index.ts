export { type Context, createHttpContext } from "./context";
export { tooManyRequests } from "./errors";
export { getHealth, type Health } from "./health";
export { type AppRouter, appRouter, createCaller } from "./root";
export { logProcedureError } from "./trpc";
