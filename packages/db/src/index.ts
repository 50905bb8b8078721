export {
  closeDatabase,
  type Database,
  type DatabaseHandle,
  type DatabaseOptions,
  databaseOptionsFromEnv,
  getDatabase,
  openDatabase,
  setDatabase,
} from "./client";
export { DatabaseInUseError, lockDataDir } from "./pglite-lock";
export * from "./schema";
