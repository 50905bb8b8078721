import type { ConnectionStatus } from "./connection";

/** The words for a connection status, as the badge and the console show them. */
export function statusLabel(status: ConnectionStatus | null, now: number): string {
  if (!status) return "Offline";
  switch (status.state) {
    case "connecting":
      return "Connecting…";
    case "connected":
      return "Connected";
    case "reconnecting": {
      if (status.nextRetryAt === null) return "Reconnecting…";
      const seconds = Math.max(0, Math.ceil((status.nextRetryAt - now) / 1000));
      return seconds > 0 ? `Reconnecting in ${seconds}s` : "Reconnecting…";
    }
    case "offline":
      return "Offline";
  }
}
