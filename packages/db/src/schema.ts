import { sql } from "drizzle-orm";
import {
  bigint,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/** People who sign in. Emails are stored lower-cased so uniqueness ignores case. */
export const users = pgTable(
  "users",
  {
    id: uuid().primaryKey().defaultRandom(),
    email: text().notNull(),
    name: text().notNull(),
    passwordHash: text().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex("users_email_key").on(table.email),
    check("users_email_lower_case", sql`${table.email} = lower(${table.email})`),
  ],
);

/**
 * What every stored publication carries, the lobby's and a channel's alike. A function, so each
 * table gets column builders of its own.
 */
function publicationColumns() {
  return {
    senderId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    // The sender's name when it was sent: history should not change when someone renames.
    senderName: text().notNull(),
    text: text().notNull(),
    instanceId: text().notNull(),
    sentAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  };
}

/**
 * The durable log of broadcasts. The identity column gives every broadcast its place in one global
 * order across instances; subscribers resume after the last id they saw.
 */
export const broadcasts = pgTable(
  "broadcasts",
  {
    id: bigint({ mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    ...publicationColumns(),
  },
  (table) => [index("broadcasts_sent_at_idx").on(table.sentAt)],
);

/**
 * Sessions and tokens ended before their expiry (logout): the record every instance's cache of
 * revocations is loaded from and polled against (packages/auth/src/revocations.ts). A row is kept
 * until the credential could no longer be used anyway, then deleted.
 *
 * `revokedAt` is the database's clock when the row was written (never the logout's own time, which
 * may be much earlier for a row written late): instances poll by it. No foreign key to `users`: a
 * revocation must be writable whatever happens to the account meanwhile.
 */
export const revokedSessions = pgTable(
  "revoked_sessions",
  {
    /** A cookie's `sid` or a token's `jti`. */
    sessionId: text().primaryKey(),
    userId: uuid().notNull(),
    /** After this, no copy of the credential is accepted anyway; the row may go. */
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    revokedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    index("revoked_sessions_revoked_at_idx").on(table.revokedAt),
    index("revoked_sessions_expires_at_idx").on(table.expiresAt),
  ],
);

/**
 * One row per channel with durable history: where its log stands. Appending takes this row's lock for
 * the length of the transaction, so offsets are handed out and committed in order per channel, and
 * channels never wait for each other (no cluster-wide lock). `epoch` names this incarnation of the
 * log: a resume token from another epoch cannot be resumed from.
 */
export const channelHeads = pgTable("channel_heads", {
  channel: text().primaryKey(),
  epoch: text().notNull(),
  head: bigint({ mode: "number" }).notNull(),
});

/** The durable publications of every channel but the lobby (which keeps `broadcasts`), by offset. */
export const channelMessages = pgTable(
  "channel_messages",
  {
    channel: text().notNull(),
    offset: bigint({ mode: "number" }).notNull(),
    ...publicationColumns(),
  },
  (table) => [
    primaryKey({ columns: [table.channel, table.offset] }),
    index("channel_messages_sent_at_idx").on(table.sentAt),
  ],
);

/** Rooms people create to practise together; the owner manages who is in. */
export const rooms = pgTable("rooms", {
  id: uuid().primaryKey().defaultRandom(),
  name: text().notNull(),
  ownerId: uuid()
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

/** Who may read and write a room's channel. The owner is a member too. */
export const roomMembers = pgTable(
  "room_members",
  {
    roomId: uuid()
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    addedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.roomId, table.userId] }), index("room_members_user_idx").on(table.userId)],
);

/** A conversation with the tutor; its channel is its owner's alone. */
export const conversations = pgTable(
  "conversations",
  {
    id: uuid().primaryKey().defaultRandom(),
    ownerId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    title: text().notNull(),
    /** The learner's CEFR level the tutor answers at (A1–C1). */
    level: text().notNull().default("A2"),
    /**
     * The role-play the tutor plays, as it was when the conversation began (a library scenario or a
     * generated one), so later edits to the library do not change a conversation under way.
     * Validated with the tutor's scenario schema whenever it is read.
     */
    scenario: jsonb(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index("conversations_owner_idx").on(table.ownerId)],
);

/**
 * The record of what was said in a conversation. An assistant message is written when its
 * generation is accepted (`queued`), moves to `streaming`, and ends `complete`, `stopped` (Stop was
 * pressed; `content` is what had arrived) or `failed` (`error` says why; `content` is what had arrived).
 */
export const messages = pgTable(
  "messages",
  {
    id: uuid().primaryKey().defaultRandom(),
    /** Order within the conversation: messages written in one transaction share a timestamp. */
    seq: bigint({ mode: "number" }).generatedAlwaysAsIdentity(),
    conversationId: uuid()
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    role: text({ enum: ["user", "assistant"] }).notNull(),
    content: text().notNull(),
    status: text({ enum: ["queued", "streaming", "complete", "stopped", "failed"] }).notNull(),
    /** The model that answered (assistant messages). */
    model: text(),
    promptTokens: integer(),
    completionTokens: integer(),
    /** Why a generation failed, in one sentence for the learner. */
    error: text(),
    /** The grammar correction of a learner's message, validated with the tutor's correction schema. */
    correction: jsonb(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index("messages_conversation_idx").on(table.conversationId, table.seq)],
);

export type StoredBroadcast = typeof broadcasts.$inferSelect;
export type StoredChannelMessage = typeof channelMessages.$inferSelect;
export type StoredMessage = typeof messages.$inferSelect;
