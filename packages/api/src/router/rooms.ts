import { conversations, getDatabase, roomMembers, rooms, users } from "@plauder/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { and, asc, desc, eq } from "drizzle-orm";
import { z } from "zod";
import { publishLimiter } from "../broadcasts/service";
import { conversationChannel, parseChannelName, roomChannel, userChannel } from "../channels/names";
import { announceAccessChange, publishAs } from "../channels/service";
import { tooManyRequests } from "../errors";
import { protectedProcedure } from "../trpc";

const roomId = z.uuid("A room id is a UUID");
const roomName = z.string().trim().min(1, "A room needs a name").max(80, "A room name has at most 80 characters");

/** Room changes count against the person's publish budget: creating and inviting are writes others see. */
async function spendBudget(userId: string): Promise<void> {
  const decision = await publishLimiter().hit(userId);
  if (!decision.allowed) throw tooManyRequests(decision.retryAfterSeconds, "Changing rooms too fast");
}

/** The room, if `userId` is a member; FORBIDDEN otherwise (also when it does not exist: no probing). */
async function memberRoom(id: string, userId: string) {
  const [row] = await getDatabase()
    .db.select({ id: rooms.id, name: rooms.name, ownerId: rooms.ownerId, createdAt: rooms.createdAt })
    .from(rooms)
    .innerJoin(roomMembers, and(eq(roomMembers.roomId, rooms.id), eq(roomMembers.userId, userId)))
    .where(eq(rooms.id, id))
    .limit(1);
  if (!row) throw new TRPCError({ code: "FORBIDDEN", message: "Only members of this room may see it" });
  return row;
}

async function ownedRoom(id: string, userId: string) {
  const room = await memberRoom(id, userId);
  if (room.ownerId !== userId) throw new TRPCError({ code: "FORBIDDEN", message: "Only the room's owner may do this" });
  return room;
}

/** Tells a person something on their own channel; a notice that cannot be stored is not worth failing the change for. */
async function notify(sender: { id: string; name: string }, userId: string, text: string): Promise<void> {
  const channel = parseChannelName(userChannel(userId));
  if ("error" in channel) return;
  await publishAs(sender, channel, text, "durable").catch(() => undefined);
}

export const roomsRouter = {
  /** Creates a room; its creator is its owner and first member. */
  create: protectedProcedure.input(z.object({ name: roomName })).mutation(async ({ input, ctx }) => {
    await spendBudget(ctx.user.id);
    const room = await getDatabase().db.transaction(async (tx) => {
      const [created] = await tx.insert(rooms).values({ name: input.name, ownerId: ctx.user.id }).returning();
      if (!created) throw new Error("insert returned no row");
      await tx.insert(roomMembers).values({ roomId: created.id, userId: ctx.user.id });
      return created;
    });
    // Every instance forgets the owner's grants: their other tabs may be connected elsewhere.
    await announceAccessChange(roomChannel(room.id), ctx.user.id);
    return {
      id: room.id,
      name: room.name,
      ownerId: room.ownerId,
      channel: roomChannel(room.id),
      role: "owner" as const,
    };
  }),

  /** The rooms this person is a member of, newest first. */
  list: protectedProcedure.query(async ({ ctx }) => {
    const rows = await getDatabase()
      .db.select({ id: rooms.id, name: rooms.name, ownerId: rooms.ownerId })
      .from(roomMembers)
      .innerJoin(rooms, eq(rooms.id, roomMembers.roomId))
      .where(eq(roomMembers.userId, ctx.user.id))
      .orderBy(desc(rooms.createdAt))
      .limit(200);
    return rows.map((room) => ({
      ...room,
      channel: roomChannel(room.id),
      role: room.ownerId === ctx.user.id ? ("owner" as const) : ("member" as const),
    }));
  }),

  /** The members of a room (members only). */
  members: protectedProcedure.input(z.object({ roomId })).query(async ({ input, ctx }) => {
    const room = await memberRoom(input.roomId, ctx.user.id);
    const rows = await getDatabase()
      .db.select({ id: users.id, name: users.name })
      .from(roomMembers)
      .innerJoin(users, eq(users.id, roomMembers.userId))
      .where(eq(roomMembers.roomId, room.id))
      .orderBy(asc(roomMembers.addedAt));
    return rows.map((member) => ({ ...member, role: member.id === room.ownerId ? "owner" : "member" }));
  }),

  /**
   * Adds the person with this email to the room (owner only) and tells them on their channel. An
   * owner learns whether an account uses the email, as they would by asking the person; the budget
   * keeps that from becoming a way to list accounts.
   */
  invite: protectedProcedure
    .input(z.object({ roomId, email: z.email("Enter a valid email").max(254) }))
    .mutation(async ({ input, ctx }) => {
      const room = await ownedRoom(input.roomId, ctx.user.id);
      await spendBudget(ctx.user.id);
      const { db } = getDatabase();
      const [invitee] = await db
        .select({ id: users.id, name: users.name })
        .from(users)
        .where(eq(users.email, input.email.trim().toLowerCase()))
        .limit(1);
      if (!invitee) throw new TRPCError({ code: "NOT_FOUND", message: "No account uses this email" });
      const added = await db
        .insert(roomMembers)
        .values({ roomId: room.id, userId: invitee.id })
        .onConflictDoNothing()
        .returning();
      if (added.length > 0) {
        await announceAccessChange(roomChannel(room.id), invitee.id);
        await notify(ctx.user, invitee.id, `${ctx.user.name} added you to the room “${room.name}”`);
      }
      return { member: { ...invitee, role: "member" as const }, added: added.length > 0 };
    }),

  /** Removes a member (owner only); their live subscriptions to the room end with FORBIDDEN. */
  remove: protectedProcedure
    .input(z.object({ roomId, userId: z.uuid("A user id is a UUID") }))
    .mutation(async ({ input, ctx }) => {
      const room = await ownedRoom(input.roomId, ctx.user.id);
      if (input.userId === ctx.user.id) {
        throw new TRPCError({ code: "BAD_REQUEST", message: "The owner cannot remove themselves" });
      }
      const removed = await getDatabase()
        .db.delete(roomMembers)
        .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, input.userId)))
        .returning();
      if (removed.length > 0) {
        await announceAccessChange(roomChannel(room.id), input.userId);
        await notify(ctx.user, input.userId, `${ctx.user.name} removed you from the room “${room.name}”`);
      }
      return { removed: removed.length > 0 };
    }),

  /** Leaves a room (members other than the owner). */
  leave: protectedProcedure.input(z.object({ roomId })).mutation(async ({ input, ctx }) => {
    const room = await memberRoom(input.roomId, ctx.user.id);
    if (room.ownerId === ctx.user.id) {
      throw new TRPCError({ code: "BAD_REQUEST", message: "The owner cannot leave their own room" });
    }
    await getDatabase()
      .db.delete(roomMembers)
      .where(and(eq(roomMembers.roomId, room.id), eq(roomMembers.userId, ctx.user.id)));
    await announceAccessChange(roomChannel(room.id), ctx.user.id);
    return { left: true };
  }),
} satisfies TRPCRouterRecord;

/** Bare conversations: a channel of one's own (the tutor's conversations start with `tutor.start`). */
export const conversationsRouter = {
  create: protectedProcedure
    .input(z.object({ title: z.string().trim().min(1).max(120).default("Conversation") }).optional())
    .mutation(async ({ input, ctx }) => {
      await spendBudget(ctx.user.id);
      const [row] = await getDatabase()
        .db.insert(conversations)
        .values({ ownerId: ctx.user.id, title: input?.title ?? "Conversation" })
        .returning();
      if (!row) throw new Error("insert returned no row");
      await announceAccessChange(conversationChannel(row.id), ctx.user.id);
      return { id: row.id, title: row.title, channel: conversationChannel(row.id) };
    }),

  list: protectedProcedure.query(async ({ ctx }) => {
    const rows = await getDatabase()
      .db.select({ id: conversations.id, title: conversations.title, createdAt: conversations.createdAt })
      .from(conversations)
      .where(eq(conversations.ownerId, ctx.user.id))
      .orderBy(desc(conversations.createdAt))
      .limit(200);
    return rows.map((row) => ({ ...row, createdAt: row.createdAt.getTime(), channel: conversationChannel(row.id) }));
  }),
} satisfies TRPCRouterRecord;
