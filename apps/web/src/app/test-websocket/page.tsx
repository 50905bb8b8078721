import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { auth } from "~/auth";
import { RealtimeConsole } from "./console";

export const metadata: Metadata = { title: "Realtime console" };

export default async function RealtimeConsolePage() {
  const session = await auth();
  if (!session) redirect("/login?callbackUrl=/test-websocket");
  return <RealtimeConsole user={{ id: session.user.id, name: session.user.name ?? "" }} />;
}
