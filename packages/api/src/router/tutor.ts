import { getEnv } from "@plauder/runtime";
import {
  ModelOutputError,
  ProviderError,
  parseGeneratedScenario,
  scenarioGenerationRequest,
  scenarioLibrary,
  scenarioPromptVersion,
} from "@plauder/tutor";
import { cefrLevelSchema, findScenario, scenarioSchema } from "@plauder/tutor/schemas";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { publishLimiter } from "../broadcasts/service";
import { tooManyRequests } from "../errors";
import { protectedProcedure } from "../trpc";
import { getOutputCache } from "../tutor/cache";
import { conversationSnapshot, editAndResend, regenerate, send, startConversation, stop } from "../tutor/conversations";
import { getTutorProvider, requireProvider } from "../tutor/provider";
import { conversationView, listConversations } from "../tutor/store";

const conversationId = z.uuid("A conversation id is a UUID");

/** A learner's message: trimmed, not empty, at most TUTOR_MAX_MESSAGE_LENGTH characters. */
const messageText = z
  .string()
  .trim()
  .min(1, "Write something first")
  .superRefine((text, context) => {
    const max = getEnv().TUTOR_MAX_MESSAGE_LENGTH;
    if (text.length > max) {
      context.addIssue({
        code: "custom",
        message: `A message has at most ${max} characters (this one has ${text.length})`,
      });
    }
  });

/** Everything the tutor does costs from the person's publish budget: it all reaches a model. */
async function spendBudget(userId: string): Promise<void> {
  const decision = await publishLimiter().hit(userId);
  if (!decision.allowed) throw tooManyRequests(decision.retryAfterSeconds, "Writing too fast; wait a moment");
}

// A generated scenario is a few short fields; past this the model is not coming back with one.
const scenarioTimeoutMs = 90_000;

export const tutorRouter = {
  /** Whether the tutor can answer now, or what is missing and the command that fixes it. */
  status: protectedProcedure.query(() => getTutorProvider().status()),

  /** The built-in role-play scenarios (A1–C1). */
  scenarios: protectedProcedure.query(() => scenarioLibrary),

  /** A new role-play scenario on a topic, at a level (cached per model, prompt version, topic and level). */
  generateScenario: protectedProcedure
    .input(
      z.object({
        topic: z
          .string()
          .trim()
          .min(3, "Describe the situation in a few words")
          .max(200, "A topic has at most 200 characters"),
        level: cefrLevelSchema,
      }),
    )
    .mutation(async ({ input, ctx }) => {
      await spendBudget(ctx.user.id);
      const { provider, model } = await requireProvider();
      const cache = getOutputCache();
      const key = [model, scenarioPromptVersion, input.level, input.topic.toLowerCase()];
      const cached = await cache.get("scenario", key, scenarioSchema);
      if (cached) return cached;
      const request = scenarioGenerationRequest(input.topic, input.level);
      let raw = "";
      try {
        for await (const chunk of provider.chat({
          model,
          messages: request.messages,
          format: request.format,
          options: { temperature: 0 },
          signal: AbortSignal.timeout(scenarioTimeoutMs),
        })) {
          if (chunk.type === "delta") raw += chunk.text;
        }
        const scenario = parseGeneratedScenario(raw, input.topic, input.level);
        await cache.set("scenario", key, scenario);
        return scenario;
      } catch (error) {
        if (error instanceof ModelOutputError) {
          throw new TRPCError({
            code: "BAD_GATEWAY",
            message: "The model's scenario was malformed; try again or pick one from the list",
          });
        }
        if (error instanceof ProviderError)
          throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: error.message });
        if (error instanceof DOMException && error.name === "TimeoutError") {
          throw new TRPCError({ code: "TIMEOUT", message: "The model took too long to write a scenario; try again" });
        }
        throw error;
      }
    }),

  /** Starts a conversation: free, or a role-play from the library (`scenarioId`) or a generated one (`scenario`). */
  start: protectedProcedure
    .input(
      z.object({
        level: cefrLevelSchema,
        scenarioId: z.string().max(40).optional(),
        scenario: scenarioSchema.optional(),
      }),
    )
    .mutation(async ({ input, ctx }) => {
      await spendBudget(ctx.user.id);
      let scenario = input.scenario ?? null;
      if (input.scenarioId) {
        scenario = findScenario(input.scenarioId) ?? null;
        if (!scenario) throw new TRPCError({ code: "NOT_FOUND", message: `No scenario "${input.scenarioId}"` });
      }
      return startConversation(ctx.user, { level: input.level, scenario });
    }),

  /** The person's tutor conversations, newest first. */
  conversations: protectedProcedure.query(async ({ ctx }) =>
    (await listConversations(ctx.user.id)).map(conversationView),
  ),

  /** A conversation with its messages and the answer under way (its text so far). */
  conversation: protectedProcedure
    .input(z.object({ conversationId }))
    .query(({ input, ctx }) => conversationSnapshot(ctx.user.id, input.conversationId)),

  /**
   * Sends a learner message. The answer streams on the conversation's channel; the reply says
   * which message will carry it and its place in line (0: answering now).
   */
  send: protectedProcedure.input(z.object({ conversationId, text: messageText })).mutation(async ({ input, ctx }) => {
    await spendBudget(ctx.user.id);
    return send(ctx.user, input.conversationId, input.text);
  }),

  /** Stops the answer under way, from any tab and any instance; what had arrived is saved as `stopped`. */
  stop: protectedProcedure
    .input(z.object({ conversationId }))
    .mutation(({ input, ctx }) => stop(ctx.user.id, input.conversationId)),

  /** Answers the last learner message again. */
  regenerate: protectedProcedure.input(z.object({ conversationId })).mutation(async ({ input, ctx }) => {
    await spendBudget(ctx.user.id);
    return regenerate(ctx.user, input.conversationId);
  }),

  /** Changes a learner message and answers it again; what followed it is removed. */
  edit: protectedProcedure
    .input(z.object({ conversationId, messageId: z.uuid("A message id is a UUID"), text: messageText }))
    .mutation(async ({ input, ctx }) => {
      await spendBudget(ctx.user.id);
      return editAndResend(ctx.user, input.conversationId, input.messageId, input.text);
    }),
} satisfies TRPCRouterRecord;
