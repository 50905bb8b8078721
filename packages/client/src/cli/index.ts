// The CLI's entry point for the `plauder` binary, and the parts the tests check on their own.
export { parseInvocation } from "./arguments";
export { exitCodes, UsageError } from "./exit-codes";
export {
  type BroadcastMessage,
  formatBroadcast,
  formatPingLine,
  formatPingSummary,
  formatPublication,
  formatRoom,
  printable,
} from "./format";
export type { CliIO } from "./io";
export { main } from "./main";
export { sessionExpiredMessage, validationMessage } from "./messages";
export { summarize } from "./stats";
export { toCliError } from "./to-cli-error";
export { usage } from "./usage";
