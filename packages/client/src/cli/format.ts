import type { Broadcast, ChannelPublication } from "@plauder/api";
import type { LoginResponse } from "../login";
import type { RttSummary } from "./stats";

/** Milliseconds without float noise: whole numbers stay whole, others get one decimal. */
function formatMs(ms: number): string {
  return Number.isInteger(ms) ? String(ms) : ms.toFixed(1);
}

/** One line per pong, naming the instance that answered, since a cluster spreads pings over several. */
export function formatPingLine(sequence: number, count: number, rttMs: number, instanceId: string): string {
  return `Pong ${sequence}/${count} from instance ${instanceId}: ${formatMs(rttMs)} ms`;
}

/** The closing line of `ping`; also printed when Ctrl-C stopped it before any pong. */
export function formatPingSummary(summary: RttSummary | null): string {
  if (!summary) return "No pongs received";
  const { count, min, median: mid, p99, max } = summary;
  const values = [min, mid, p99, max].map(formatMs).join("/");
  return `${count} ${count === 1 ? "ping" : "pings"}: min/median/p99/max = ${values} ms`;
}

const pad2 = (value: number): string => String(value).padStart(2, "0");

/** Local wall-clock time `HH:MM:SS`. */
function formatClock(ms: number): string {
  const date = new Date(ms);
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
}

/** Local `YYYY-MM-DD HH:MM:SS`. */
export function formatDateTime(ms: number): string {
  const date = new Date(ms);
  return `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())} ${formatClock(ms)}`;
}

function isControlCharacter(code: number): boolean {
  return (code < 0x20 && code !== 0x09) || (code >= 0x7f && code <= 0x9f);
}

/**
 * Other people's text on this person's terminal: control characters are shown escaped, since
 * escape sequences could recolour, retitle or clear the terminal, and a newline would split one
 * broadcast over several lines.
 */
export function printable(text: string): string {
  return Array.from(text, (char) => {
    const code = char.codePointAt(0) ?? 0;
    if (!isControlCharacter(code)) return char;
    if (char === "\n") return "\\n";
    if (char === "\r") return "\\r";
    return `\\u${code.toString(16).padStart(4, "0")}`;
  }).join("");
}

/** A broadcast as the wire contract delivers it. */
export type BroadcastMessage = Broadcast;

/** `[HH:MM:SS] #ID NAME: TEXT`, or with `json` the broadcast object as one line of JSON. */
export function formatBroadcast(broadcast: BroadcastMessage, json: boolean): string {
  if (json) return JSON.stringify(broadcast);
  return `[${formatClock(broadcast.sentAt)}] #${broadcast.id} ${printable(broadcast.sender.name)}: ${printable(broadcast.text)}`;
}

/**
 * `[HH:MM:SS] CHANNEL #ID NAME: TEXT`, the broadcast line with the channel before the id, or with
 * `json` the publication object as one line of JSON.
 */
export function formatPublication(publication: ChannelPublication, json: boolean): string {
  if (json) return JSON.stringify(publication);
  const { channel, id, sender, text, sentAt } = publication;
  return `[${formatClock(sentAt)}] ${printable(channel)} #${id} ${printable(sender.name)}: ${printable(text)}`;
}

/** A room as `rooms list` shows it: the channel to listen on, the person's role, the name. */
export function formatRoom(room: { channel: string; role: string; name: string }): string {
  return `${room.channel}  ${room.role.padEnd(6)}  ${printable(room.name)}`;
}

/** What `login` confirms; the token itself is never shown, only how long it lasts. */
export function formatSignedIn(session: Pick<LoginResponse, "user" | "expiresAt">): string {
  const { name, email } = session.user;
  return `Signed in as ${name} <${email}> (token valid until ${formatDateTime(session.expiresAt)})`;
}
