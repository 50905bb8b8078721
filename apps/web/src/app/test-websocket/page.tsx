import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { auth } from "~/auth";

export const metadata: Metadata = { title: "Realtime console" };

export default async function RealtimeConsolePage() {
  const session = await auth();
  if (!session) redirect("/login?callbackUrl=/test-websocket");
  return (
    <div className="stack-lg">
      <header>
        <p className="eyebrow">Realtime</p>
        <h1>Realtime console</h1>
        <p className="lead">
          Signed in as <strong>{session.user.name}</strong>. The WebSocket endpoint is mounted at{" "}
          <code>/api/trpc-ws</code>; ping, echo and broadcasts arrive here next.
        </p>
      </header>
    </div>
  );
}
