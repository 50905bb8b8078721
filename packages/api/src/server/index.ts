export { closeCodes } from "./close-codes";
export { connectionCount } from "./connections";
export { diagnosticsPath, serveDiagnostics } from "./diagnostics-endpoint";
export { isOriginAllowed, parseOrigins } from "./origin";
export {
  createRealtimeServer,
  type RealtimeServer,
  type RealtimeServerOptions,
  type RealtimeSettings,
  realtimeOptionsFrom,
} from "./realtime-server";
export { UserConnections } from "./user-connections";
