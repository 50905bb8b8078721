import { z } from "zod";

/** The CEFR levels the tutor teaches at, lowest first (C2 is not offered). */
export const cefrLevels = ["A1", "A2", "B1", "B2", "C1"] as const;
export type CefrLevel = (typeof cefrLevels)[number];
export const cefrLevelSchema = z.enum(cefrLevels);

/** How the tutor speaks at each level: the instruction that goes into the system prompt. */
export const levelGuidance: Readonly<Record<CefrLevel, string>> = {
  A1: "Niveau A1 (Anfänger): sehr einfache, kurze Hauptsätze (höchstens 8 Wörter), Präsens, Alltagswörter (Familie, Essen, Zahlen, Uhrzeit). Keine Nebensätze, keine Redewendungen. Stell einfache Ja/Nein- oder W-Fragen.",
  A2: "Niveau A2 (Grundkenntnisse): kurze Sätze (höchstens 12 Wörter), Präsens und Perfekt, einfache Nebensätze mit „weil“ und „dass“, häufige Alltagswörter. Keine seltenen Wörter, keine Redewendungen.",
  B1: "Niveau B1 (Mittelstufe): natürliche Alltagssprache, Sätze bis etwa 18 Wörter, alle häufigen Zeiten, Nebensätze, gelegentlich eine geläufige Redewendung.",
  B2: "Niveau B2 (gute Mittelstufe): flüssige, natürliche Sprache mit abwechslungsreichem Wortschatz, auch Konjunktiv II und Passiv, Redewendungen, wo sie passen.",
  C1: "Niveau C1 (fortgeschritten): sprich wie mit einem Muttersprachler: idiomatisch, präzise, auch gehobene oder umgangssprachliche Register, komplexe Satzstrukturen, wo sie natürlich sind.",
};
