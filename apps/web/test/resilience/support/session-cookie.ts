/**
 * A browser's session, obtained over plain HTTP the way a browser gets it: the CSRF token and its
 * cookie from next-auth, then the credentials sign-in, which answers with the session cookie.
 */
export type BrowserSession = {
  /** The `Cookie` header a browser would send: session and CSRF cookies. */
  cookie: string;
  /** Just the session cookie's value (`authjs.session-token`). */
  sessionToken: string;
};

const pairs = (response: Response) => response.headers.getSetCookie().map((line) => line.split(";")[0] as string);

async function csrf(baseUrl: string, cookie = ""): Promise<{ csrfToken: string; cookies: string[] }> {
  const response = await fetch(`${baseUrl}/api/auth/csrf`, { headers: cookie ? { cookie } : {} });
  const { csrfToken } = (await response.json()) as { csrfToken: string };
  return { csrfToken, cookies: pairs(response) };
}

export async function signInWithCredentials(baseUrl: string, email: string, password: string): Promise<BrowserSession> {
  const { csrfToken, cookies } = await csrf(baseUrl);
  const response = await fetch(`${baseUrl}/api/auth/callback/credentials`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookies.join("; ") },
    body: new URLSearchParams({ email, password, csrfToken, callbackUrl: `${baseUrl}/` }),
  });
  const session = pairs(response).find((pair) => pair.startsWith("authjs.session-token="));
  if (!session) throw new Error(`sign-in gave no session cookie (HTTP ${response.status})`);
  return {
    cookie: [...cookies.filter((c) => !c.startsWith("authjs.session-token=")), session].join("; "),
    sessionToken: session.slice("authjs.session-token=".length),
  };
}

/** Signs out as the browser's Logout button does; resolves with the HTTP status. */
export async function signOut(baseUrl: string, session: BrowserSession): Promise<number> {
  const { csrfToken, cookies } = await csrf(baseUrl, session.cookie);
  const cookie = [session.cookie, ...cookies].join("; ");
  const response = await fetch(`${baseUrl}/api/auth/signout`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie },
    body: new URLSearchParams({ csrfToken, callbackUrl: `${baseUrl}/` }),
  });
  return response.status;
}
