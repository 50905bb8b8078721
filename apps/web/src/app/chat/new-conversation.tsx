"use client";

import type { ConversationView } from "@plauder/api/tutor-events";
import { type ReactNode, useEffect, useId, useRef, useState } from "react";
import { errorMessage } from "~/lib/error-message";
import { api } from "~/trpc/react";
import { ScenarioBrief } from "./scenario-brief";

type Level = ConversationView["level"];
type Scenario = NonNullable<ConversationView["scenario"]>;
type Choice = { kind: "free" } | { kind: "library"; id: string } | { kind: "own" };

export const levels: readonly { level: Level; name: string }[] = [
  { level: "A1", name: "Beginner" },
  { level: "A2", name: "Elementary" },
  { level: "B1", name: "Intermediate" },
  { level: "B2", name: "Upper intermediate" },
  { level: "C1", name: "Advanced" },
];

function ScenarioSummary({ scenario }: { scenario: Scenario }) {
  return (
    <>
      <span className="scenario-title" lang="de">
        {scenario.title}
      </span>
      <span className="scenario-title-en">{scenario.titleEn}</span>
      <span className="scenario-setting" lang="de">
        {scenario.setting}
      </span>
    </>
  );
}

/** Starting a conversation: a level, then a scenario from the library, free talk, or one described by the learner. */
export function NewConversation({
  tutorReady,
  onStarted,
  onCancel,
}: {
  tutorReady: boolean;
  onStarted: (conversation: ConversationView) => void;
  onCancel: (() => void) | null;
}) {
  const [level, setLevel] = useState<Level>("A2");
  const [choice, setChoice] = useState<Choice>({ kind: "free" });
  const [topic, setTopic] = useState("");
  const [generated, setGenerated] = useState<Scenario | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const scenarios = api.tutor.scenarios.useQuery(undefined, { staleTime: Number.POSITIVE_INFINITY });
  const generate = api.tutor.generateScenario.useMutation();
  const start = api.tutor.start.useMutation();
  const heading = useRef<HTMLHeadingElement>(null);
  const preview = useRef<HTMLDivElement>(null);
  const own = useRef<HTMLDivElement>(null);
  const name = useId();

  useEffect(() => {
    heading.current?.focus();
  }, []);
  useEffect(() => {
    if (generated) preview.current?.focus();
  }, [generated]);
  // The topic field opens below the cards: bring it into view (focus stays on the choice).
  useEffect(() => {
    if (choice.kind === "own") own.current?.scrollIntoView({ block: "nearest" });
  }, [choice.kind]);

  const suitable = (scenarios.data ?? []).filter((scenario) => scenario.levels.includes(level));
  const others = (scenarios.data ?? []).filter((scenario) => !scenario.levels.includes(level));

  const onGenerate = async () => {
    setFailure(null);
    setGenerated(null);
    try {
      setGenerated(await generate.mutateAsync({ topic: topic.trim(), level }));
    } catch (error) {
      setFailure(errorMessage(error));
    }
  };

  const onStart = async () => {
    setFailure(null);
    try {
      const input =
        choice.kind === "library"
          ? { level, scenarioId: choice.id }
          : choice.kind === "own" && generated
            ? { level, scenario: generated }
            : { level };
      const result = await start.mutateAsync(input);
      onStarted(result.conversation);
    } catch (error) {
      setFailure(errorMessage(error));
    }
  };

  const ready = choice.kind !== "own" || generated !== null;
  const option = (value: Choice, label: ReactNode, key: string) => {
    const checked =
      choice.kind === value.kind && (value.kind !== "library" || (choice.kind === "library" && choice.id === value.id));
    return (
      <label key={key} className={`scenario-card${checked ? " is-checked" : ""}`}>
        <input type="radio" name={`${name}-scenario`} checked={checked} onChange={() => setChoice(value)} />
        <span className="scenario-card-body">{label}</span>
      </label>
    );
  };

  return (
    <section className="chat-pane chat-new-pane" aria-labelledby="new-conversation-title">
      <div className="new-conversation">
        <header className="row row-between">
          <h1 id="new-conversation-title" ref={heading} tabIndex={-1}>
            New conversation
          </h1>
          {onCancel && (
            <button type="button" className="button button-quiet button-small" onClick={onCancel}>
              Cancel
            </button>
          )}
        </header>

        <fieldset className="level-picker">
          <legend>Your level</legend>
          <div className="levels">
            {levels.map((item) => (
              <label key={item.level} className={`level-option${item.level === level ? " is-checked" : ""}`}>
                <input
                  type="radio"
                  name={`${name}-level`}
                  value={item.level}
                  checked={item.level === level}
                  onChange={() => {
                    setLevel(item.level);
                    setGenerated(null);
                  }}
                />
                <span className="level-code">{item.level}</span>
                <span className="level-name">{item.name}</span>
              </label>
            ))}
          </div>
        </fieldset>

        <fieldset className="scenario-picker">
          <legend>What to talk about</legend>
          {scenarios.error && <p className="form-error">{errorMessage(scenarios.error)}</p>}
          <div className="scenario-grid" data-testid="scenario-grid">
            {option(
              { kind: "free" },
              <>
                <span className="scenario-title">Freies Gespräch</span>
                <span className="scenario-title-en">Free conversation</span>
                <span className="scenario-setting">Talk about anything; the tutor follows your lead.</span>
              </>,
              "free",
            )}
            {suitable.map((scenario) =>
              option({ kind: "library", id: scenario.id }, <ScenarioSummary scenario={scenario} />, scenario.id),
            )}
            {option(
              { kind: "own" },
              <>
                <span className="scenario-title">Eigene Situation</span>
                <span className="scenario-title-en">Describe your own</span>
                <span className="scenario-setting">The tutor writes a role-play on your topic.</span>
              </>,
              "own",
            )}
          </div>
          {others.length > 0 && (
            <details className="scenario-more">
              <summary>
                {others.length} more scenario{others.length === 1 ? "" : "s"} for other levels
              </summary>
              <div className="scenario-grid">
                {others.map((scenario) =>
                  option(
                    { kind: "library", id: scenario.id },
                    <>
                      <ScenarioSummary scenario={scenario} />
                      <span className="scenario-levels">For {scenario.levels.join(", ")}</span>
                    </>,
                    scenario.id,
                  ),
                )}
              </div>
            </details>
          )}
        </fieldset>

        {choice.kind === "own" && (
          <div className="own-scenario" ref={own}>
            <form
              className="row"
              onSubmit={(event) => {
                event.preventDefault();
                void onGenerate();
              }}
            >
              <div className="stack-sm grow">
                <label htmlFor={`${name}-topic`}>Your situation</label>
                <input
                  id={`${name}-topic`}
                  className="input"
                  value={topic}
                  maxLength={200}
                  placeholder="e.g. returning a broken phone to the shop"
                  onChange={(event) => setTopic(event.target.value)}
                />
              </div>
              <button
                type="submit"
                className="button button-quiet own-generate"
                disabled={topic.trim().length < 3 || generate.isPending || !tutorReady}
              >
                {generate.isPending ? "Writing…" : "Write the scenario"}
              </button>
            </form>
            {generated && (
              <div className="scenario-preview" ref={preview} tabIndex={-1} data-testid="scenario-preview">
                <p className="eyebrow">Preview</p>
                <h2 lang="de">{generated.title}</h2>
                <p className="muted">{generated.titleEn}</p>
                <ScenarioBrief scenario={generated}>
                  <blockquote>{generated.opening}</blockquote>
                </ScenarioBrief>
              </div>
            )}
          </div>
        )}

        {failure && (
          <p className="form-error" role="alert">
            {failure}
          </p>
        )}
        <div className="actions">
          <button type="button" className="button" disabled={!ready || start.isPending} onClick={() => void onStart()}>
            {start.isPending ? "Starting…" : "Start conversation"}
          </button>
        </div>
      </div>
    </section>
  );
}
