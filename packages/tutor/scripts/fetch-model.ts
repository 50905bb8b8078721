/**
 * `npm run tutor:fetch-model`: downloads the embedded engine's model in the foreground, with a
 * progress bar — the file the server would otherwise fetch on its first use (TUTOR_MODEL_URL,
 * default Qwen2.5 1.5B Instruct) into DATA_DIR/models. Settings come from the environment, then
 * from .env at the repository root, as for the server; a relative DATA_DIR is taken from apps/web,
 * where the server runs. Ctrl-C stops it; running it again resumes.
 */
import { existsSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "@plauder/runtime";
import {
  defaultModel,
  defaultModelLocation,
  engineInstallCommand,
  ensureModelFile,
  isEngineInstalled,
  resolveModelUrl,
  showDownloadProgress,
} from "../src";
import { displayUrl, formatBytes } from "../src/model-download";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const serverDir = resolve(root, "apps/web");

async function main(): Promise<number> {
  // The environment wins over the files, and .env.local over .env (as for the server).
  for (const name of [".env.local", ".env"]) {
    const file = resolve(root, name);
    if (existsSync(file)) process.loadEnvFile(file);
  }
  const env = parseEnv(process.env);
  if (env.TUTOR_MODEL_FILE) {
    console.log(`TUTOR_MODEL_FILE is set: the tutor uses ${env.TUTOR_MODEL_FILE}, so there is nothing to fetch.`);
    return 0;
  }
  const dataDir = isAbsolute(env.DATA_DIR) ? env.DATA_DIR : resolve(serverDir, env.DATA_DIR);
  const location = defaultModelLocation({
    DATA_DIR: dataDir,
    ...(env.TUTOR_MODEL_URL ? { TUTOR_MODEL_URL: env.TUTOR_MODEL_URL } : {}),
  });
  const engineNote = (await isEngineInstalled())
    ? ""
    : `\nThe embedded engine that uses it is not installed yet: ${engineInstallCommand}`;

  if (existsSync(location.file)) {
    console.log(`The tutor's model is already there: ${location.file}${engineNote}`);
    return 0;
  }
  const source = displayUrl(resolveModelUrl(location.url));
  console.log(
    location.sha256 === defaultModel.sha256
      ? `Fetching the tutor's default model: ${defaultModel.name}, ${formatBytes(defaultModel.bytes)}\n` +
          `  licence ${defaultModel.licence}, by ${defaultModel.author}\n  from ${source}\n  into ${location.file}`
      : `Fetching the tutor's model\n  from ${source}\n  into ${location.file}`,
  );

  const download = ensureModelFile(location);
  showDownloadProgress(download);
  let stopped = false;
  process.once("SIGINT", () => {
    stopped = true;
    download.cancel(
      new Error(`Stopped. The part fetched so far stays in ${location.file}.part: run the command again to resume.`),
    );
  });
  try {
    await download.done;
  } catch {
    // showDownloadProgress has said why.
    return stopped ? 130 : 1;
  }
  if (engineNote) console.log(engineNote.trimStart());
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
