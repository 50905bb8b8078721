import type { AuthUser } from "@plauder/auth";
import { conversations, getDatabase, roomMembers } from "@plauder/db";
import { TRPCError } from "@trpc/server";
import { and, eq } from "drizzle-orm";
import { type ChannelName, namespaces } from "./names";

export type ChannelAction = "read" | "publish";

// Membership answers are kept briefly: a busy room would otherwise cost a query per publish. A
// removal clears the entry on every instance at once (see forget), so the delay only matters if
// the bus is down.
const allowedTtlMs = 5_000;
const refusedTtlMs = 1_000;
const maxCached = 100_000;

/** Who may read and publish where: the namespace rules of names.ts applied to one person. */
export class ChannelAccess {
  private readonly cache = new Map<string, { allowed: boolean; until: number }>();

  /** Throws FORBIDDEN, with a sentence, unless `user` may do `action` on `channel`. */
  async check(user: AuthUser, channel: ChannelName, action: ChannelAction): Promise<void> {
    if (action === "publish" && !namespaces[channel.namespace].clientsPublish) {
      throw new TRPCError({ code: "FORBIDDEN", message: `Only the server publishes to ${channel.namespace} channels` });
    }
    if (await this.allowed(user, channel)) return;
    throw new TRPCError({ code: "FORBIDDEN", message: refusal(channel) });
  }

  /** Forgets what is known about one person's access to a channel (after a membership change). */
  forget(channel: string, userId: string): void {
    this.cache.delete(`${channel}|${userId}`);
  }

  private async allowed(user: AuthUser, channel: ChannelName): Promise<boolean> {
    if (channel.namespace === "lobby") return true;
    if (channel.namespace === "user") return channel.id === user.id;
    const key = `${channel.name}|${user.id}`;
    const cached = this.cache.get(key);
    if (cached && cached.until > Date.now()) return cached.allowed;
    const allowed = await lookUp(user.id, channel);
    if (this.cache.size >= maxCached) this.cache.clear();
    this.cache.set(key, { allowed, until: Date.now() + (allowed ? allowedTtlMs : refusedTtlMs) });
    return allowed;
  }
}

async function lookUp(userId: string, channel: ChannelName): Promise<boolean> {
  if (channel.namespace === "lobby" || channel.namespace === "user") return false;
  const { db } = getDatabase();
  if (channel.namespace === "room") {
    const [row] = await db
      .select({ userId: roomMembers.userId })
      .from(roomMembers)
      .where(and(eq(roomMembers.roomId, channel.id), eq(roomMembers.userId, userId)))
      .limit(1);
    return row !== undefined;
  }
  const [row] = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(and(eq(conversations.id, channel.id), eq(conversations.ownerId, userId)))
    .limit(1);
  return row !== undefined;
}

function refusal(channel: ChannelName): string {
  switch (channel.namespace) {
    case "room":
      return "Only members of this room may use its channel";
    case "conversation":
      return "Only the owner of this conversation may use its channel";
    default:
      return "This channel belongs to someone else";
  }
}
