import { z } from "zod";

/** Emails compare case-insensitively, so they are trimmed and lower-cased before anything else. */
export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, "Email is too long")
  .pipe(z.email("Enter a valid email address"));

/**
 * Long enough to resist guessing (ASVS 6.2.1 asks for 12 characters), short enough that hashing
 * stays cheap and bounded. No composition rules: length is what makes a password strong.
 */
export const newPasswordSchema = z
  .string()
  .min(12, "Password must be at least 12 characters")
  .max(256, "Password must be at most 256 characters");

export const registerInput = z.object({
  email: emailSchema,
  password: newPasswordSchema,
  name: z
    .string()
    .trim()
    .min(1, "Name is required")
    .max(64, "Name must be at most 64 characters")
    // Postgres text cannot hold NUL; refusing it here makes it a clear BAD_REQUEST, not a failed insert.
    .refine((value) => !value.includes("\u0000"), "Name must not contain NUL characters"),
});
export type RegisterInput = z.infer<typeof registerInput>;

/** Sign-in takes any password up to the bound: older accounts may predate today's rules. */
export const loginInput = z.object({
  email: emailSchema,
  password: z.string().min(1, "Password is required").max(256, "Password must be at most 256 characters"),
});
export type LoginInput = z.infer<typeof loginInput>;

/** What the rest of the system knows about a signed-in person. */
export type AuthUser = { id: string; email: string; name: string };
