import { getEnv } from "@plauder/runtime";
import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { auth } from "~/auth";
import { ChatApp } from "./chat-app";

export const metadata: Metadata = { title: "Chat with the tutor" };

export default async function ChatPage({ searchParams }: { searchParams: Promise<{ c?: string | string[] }> }) {
  const session = await auth();
  const { c } = await searchParams;
  const conversationId = typeof c === "string" && /^[0-9a-f-]{36}$/i.test(c) ? c : null;
  if (!session) {
    const back = conversationId ? `/chat?c=${conversationId}` : "/chat";
    redirect(`/login?callbackUrl=${encodeURIComponent(back)}`);
  }
  return <ChatApp initialConversationId={conversationId} maxLength={getEnv().TUTOR_MAX_MESSAGE_LENGTH} />;
}
