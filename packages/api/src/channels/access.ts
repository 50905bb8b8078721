import type { AuthUser } from "@plauder/auth";
import { conversations, getDatabase, roomMembers } from "@plauder/db";
import { TRPCError } from "@trpc/server";
import { eq } from "drizzle-orm";
import { type ChannelName, namespaces } from "./names";

export type ChannelAction = "read" | "publish";

// What one person may use: the rooms they belong to and the conversations they own, loaded in one
// query each and kept briefly, so a busy person costs one query per namespace, not one per
// channel. Changes clear the entry on every instance at once (see forget); the age bounds only
// matter when that announcement is lost (the bus is down).
const maxAgeMs = 10_000;
// A channel missing from the set is looked up again once the set is this old (a membership made
// elsewhere whose announcement was lost), so a stranger's probing cannot cost a query each time.
const recheckMissAfterMs = 2_000;
const maxPeople = 50_000;

type Grants = { ids: Set<string>; loadedAt: number };

/** Who may read and publish where: the namespace rules of names.ts applied to one person. */
export class ChannelAccess {
  private readonly grants = new Map<string, Grants>();
  /** Lookups in flight, so a burst of calls from one person waits for one query instead of each making one. */
  private readonly loading = new Map<string, Promise<Grants>>();

  /** Throws FORBIDDEN, with a sentence, unless `user` may do `action` on `channel`. */
  async check(user: AuthUser, channel: ChannelName, action: ChannelAction): Promise<void> {
    if (action === "publish" && !namespaces[channel.namespace].clientsPublish) {
      throw new TRPCError({ code: "FORBIDDEN", message: `Only the server publishes to ${channel.namespace} channels` });
    }
    if (await this.allowed(user, channel)) return;
    throw new TRPCError({ code: "FORBIDDEN", message: refusal(channel) });
  }

  /** Forgets what is known about one person's channels (after they joined, left or created one). */
  forget(_channel: string, userId: string): void {
    this.grants.delete(`room|${userId}`);
    this.grants.delete(`conversation|${userId}`);
  }

  private async allowed(user: AuthUser, channel: ChannelName): Promise<boolean> {
    if (channel.namespace === "lobby") return true;
    if (channel.namespace === "user") return channel.id === user.id;
    const key = `${channel.namespace}|${user.id}`;
    let grants = this.grants.get(key);
    const age = grants ? Date.now() - grants.loadedAt : Number.POSITIVE_INFINITY;
    if (!grants || age > maxAgeMs || (!grants.ids.has(channel.id) && age > recheckMissAfterMs)) {
      grants = await this.load(key, user.id, channel.namespace);
    }
    return grants.ids.has(channel.id);
  }

  private load(key: string, userId: string, namespace: "room" | "conversation"): Promise<Grants> {
    let pending = this.loading.get(key);
    if (!pending) {
      pending = lookUp(userId, namespace)
        .catch((error: unknown) => {
          // The database is away: what was known a little while ago beats refusing everyone (ephemeral
          // publications do not need the database otherwise). Knowing nothing, say so plainly.
          const stale = this.grants.get(key);
          if (stale) return stale.ids;
          throw new TRPCError({
            code: "SERVICE_UNAVAILABLE",
            message: "Channel access cannot be checked right now; try again",
            cause: error,
          });
        })
        .then((ids) => {
          const grants = { ids, loadedAt: Date.now() };
          if (this.grants.size >= maxPeople) this.grants.clear();
          this.grants.set(key, grants);
          return grants;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }
}

async function lookUp(userId: string, namespace: "room" | "conversation"): Promise<Set<string>> {
  const { db } = getDatabase();
  if (namespace === "room") {
    const rows = await db.select({ id: roomMembers.roomId }).from(roomMembers).where(eq(roomMembers.userId, userId));
    return new Set(rows.map((row) => row.id));
  }
  const rows = await db.select({ id: conversations.id }).from(conversations).where(eq(conversations.ownerId, userId));
  return new Set(rows.map((row) => row.id));
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
