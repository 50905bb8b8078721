import { sql } from "drizzle-orm";
import { bigint, check, index, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

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
 * The durable log of broadcasts. The identity column gives every broadcast its place in one global
 * order across instances; subscribers resume after the last id they saw.
 */
export const broadcasts = pgTable(
  "broadcasts",
  {
    id: bigint({ mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    senderId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    // The sender's name when the broadcast was sent: history should not change when someone renames.
    senderName: text().notNull(),
    text: text().notNull(),
    instanceId: text().notNull(),
    sentAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
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

export type StoredBroadcast = typeof broadcasts.$inferSelect;
