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

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;
export type StoredBroadcast = typeof broadcasts.$inferSelect;
