import { z } from "zod";

/** What people write: a broadcast, a channel publication. Checked the same way everywhere. */
export const publicationText = z
  .string()
  .min(1, "Text must not be empty")
  .max(4096, "Text must be at most 4096 characters")
  // Postgres text cannot hold NUL; refusing it here makes it a clear BAD_REQUEST, not a failed insert.
  .refine((value) => !value.includes("\u0000"), "Text must not contain NUL characters");
