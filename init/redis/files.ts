// Reads init/redis/seeds.json at program time and refuses, before any resource exists, keys the
// app user could not reach (outside the seed's patterns) or the hook may not seed.
import * as fs from "fs";
import * as path from "path";
import { relativePath, ScriptFileError, sha256 } from "../versioned-files";

/** What the hook may seed: config:*, exchanges:config and system:* (sessions and prices are the services' own). */
export const REDIS_SEEDABLE_KEYS = [/^config:.+/, /^exchanges:config$/, /^system:.+/];

export interface RedisSeedKey {
  key: string;
  /** The value as stored: a JSON string. */
  value: string;
}

export interface RedisSeeds {
  file: string;
  checksum: string;
  keys: RedisSeedKey[];
}

export function loadRedisSeeds(projectRoot: string, file = "init/redis/seeds.json"): RedisSeeds {
  const full = path.join(projectRoot, file);
  if (!fs.existsSync(full)) throw new ScriptFileError(`${file}: file is missing`);
  const text = fs.readFileSync(full, "utf8");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new ScriptFileError(`${relativePath(projectRoot, full)}: not valid JSON: ${(error as Error).message}`);
  }
  const keys = (doc as { keys?: unknown })?.keys;
  if (typeof keys !== "object" || keys === null || Array.isArray(keys)) throw new ScriptFileError(`${file}: must hold {"keys": {"<key>": <value>, ...}}`);
  const seeds: RedisSeedKey[] = [];
  for (const [key, value] of Object.entries(keys)) {
    if (!REDIS_SEEDABLE_KEYS.some((pattern) => pattern.test(key))) {
      throw new ScriptFileError(`${file}: key "${key}" may not be seeded; allowed: config:*, exchanges:config, system:*`);
    }
    seeds.push({ key, value: JSON.stringify(value) });
  }
  return { file, checksum: sha256(text), keys: seeds };
}
