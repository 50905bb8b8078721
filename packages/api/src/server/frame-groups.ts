import type { Connection } from "../context";

/**
 * Live subscriptions on a direct fan-out path, grouped by their frame prefix (`{"id":<subscription
 * id>`). Clients number their subscriptions from 1, so a handful of prefixes covers nearly
 * everyone: a fan-out encodes each event's frame once per group and hands the same bytes to every
 * socket in it. The lobby's and the channels' fan-outs are such groups, each with its own delivery.
 */
export class FrameGroups<Member extends { readonly framePrefix: string }> {
  private readonly groups = new Map<string, Set<Member>>();
  private count = 0;

  add(member: Member): void {
    let group = this.groups.get(member.framePrefix);
    if (!group) {
      group = new Set();
      this.groups.set(member.framePrefix, group);
    }
    if (group.has(member)) return;
    group.add(member);
    this.count++;
  }

  /** Returns whether the member was there. */
  remove(member: Member): boolean {
    const group = this.groups.get(member.framePrefix);
    if (!group?.delete(member)) return false;
    this.count--;
    if (group.size === 0) this.groups.delete(member.framePrefix);
    return true;
  }

  size(): number {
    return this.count;
  }

  /** Each prefix with its members; iterate members over a copy if the loop may remove them. */
  entries(): IterableIterator<[string, Set<Member>]> {
    return this.groups.entries();
  }
}

// A prebuilt Buffer goes out as a text frame (tRPC speaks text) and is written as is, not copied.
const textFrame = { binary: false } as const;

/**
 * Writes a prebuilt frame to a direct-path subscriber's socket unless the socket is gone or holds
 * more unsent data than `maxBuffered`; then the connection is closed as a slow consumer. Returns
 * whether the frame was written.
 */
export function sendFrame(connection: Connection, frame: string | Buffer, maxBuffered: number): boolean {
  const socket = connection.socket;
  if (socket.readyState !== socket.OPEN) return false;
  if (socket.bufferedAmount > maxBuffered) {
    connection.closeAsSlowConsumer();
    return false;
  }
  socket.send(frame, textFrame);
  return true;
}
