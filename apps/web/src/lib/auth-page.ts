import { redirect } from "next/navigation";
import { auth } from "~/auth";
import { safeRedirectPath } from "./safe-redirect";

/** What Next gives the login and register pages. */
export type AuthPageProps = { searchParams: Promise<Record<string, string | string[]>> };

/**
 * For the login and register pages: where to go afterwards (a safe `callbackUrl`), and straight
 * there if the visitor is already signed in.
 */
export async function nextPathUnlessSignedIn(searchParams: AuthPageProps["searchParams"]): Promise<string> {
  const next = safeRedirectPath((await searchParams).callbackUrl);
  if (await auth()) redirect(next);
  return next;
}
