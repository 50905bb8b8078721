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

/** The credentials sign-in's whole answer, for cases that look at refusals too. */
export type SignInAnswer = {
  status: number;
  /** `authjs.session-token=…` when the sign-in succeeded. */
  sessionCookie: string | null;
  /** The CSRF cookie the sign-in was made with. */
  csrfCookies: string[];
  retryAfter: string | null;
  body: string;
  location: string | null;
};

/**
 * POSTs the credentials form as the login page does. `jsClient` adds the header next-auth's
 * `signIn()` sends (it asks for a JSON answer instead of a redirect).
 */
export async function postCredentials(
  baseUrl: string,
  email: string,
  password: string,
  options: { jsClient?: boolean } = {},
): Promise<SignInAnswer> {
  const { csrfToken, cookies } = await csrf(baseUrl);
  const response = await fetch(`${baseUrl}/api/auth/callback/credentials`, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      cookie: cookies.join("; "),
      ...(options.jsClient ? { "x-auth-return-redirect": "1" } : {}),
    },
    body: new URLSearchParams({ email, password, csrfToken, callbackUrl: `${baseUrl}/` }),
  });
  return {
    status: response.status,
    sessionCookie: pairs(response).find((pair) => /^(__Secure-)?authjs\.session-token=./.test(pair)) ?? null,
    csrfCookies: cookies,
    retryAfter: response.headers.get("retry-after"),
    body: await response.text(),
    location: response.headers.get("location"),
  };
}

export async function signInWithCredentials(baseUrl: string, email: string, password: string): Promise<BrowserSession> {
  const answer = await postCredentials(baseUrl, email, password);
  const session = answer.sessionCookie;
  if (!session) throw new Error(`sign-in gave no session cookie (HTTP ${answer.status})`);
  return {
    cookie: [...answer.csrfCookies.filter((c) => !c.startsWith("authjs.session-token=")), session].join("; "),
    sessionToken: session.slice(session.indexOf("=") + 1),
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
