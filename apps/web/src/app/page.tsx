import Link from "next/link";
import { auth } from "~/auth";

export default async function HomePage() {
  const session = await auth();
  return (
    <div className="stack-lg">
      <section className="hero">
        <p className="eyebrow">Deutsch lernen im Gespräch</p>
        <h1>Plauder</h1>
        <p className="lead">
          Plauder is a German-learning app built around conversation: talk with the tutor at your level, in a role-play
          or freely, and see each of your messages corrected as you go.
        </p>
        <div className="actions">
          <Link href="/chat" className="button">
            Talk with the tutor
          </Link>
          <Link href="/test-websocket" className="button button-quiet">
            Open the realtime console
          </Link>
          {!session && (
            <Link href="/register" className="button button-quiet">
              Create an account
            </Link>
          )}
        </div>
      </section>
      <section className="cards" aria-label="What is here">
        <article className="card">
          <h2>Chat with the tutor</h2>
          <p>Pick your level (A1–C1) and a situation — at the bakery, a flat viewing — or describe your own.</p>
          <Link href="/chat">Start a conversation →</Link>
        </article>
        <article className="card">
          <h2>Realtime console</h2>
          <p>Watch the connection, measure ping latency, echo text and broadcast to everyone online.</p>
          <Link href="/test-websocket">Go to the console →</Link>
        </article>
        <article className="card">
          <h2>Your account</h2>
          <p>
            {session
              ? `Signed in as ${session.user.name}.`
              : "Register with email and password, or log in if you already have an account."}
          </p>
          {session ? <Link href="/test-websocket">Continue →</Link> : <Link href="/login">Log in →</Link>}
        </article>
        <article className="card">
          <h2>Typed clients</h2>
          <p>
            Scripts and services sign in at <code>/api/v1/auth/login</code> and speak the same tRPC procedures over
            WebSocket.
          </p>
          <Link href="/api/health">Service health →</Link>
        </article>
      </section>
    </div>
  );
}
