// What every container spec shares: endpoints, the healthcheck shape `wait: true` relies on, how
// scripts are uploaded, and the label that makes settings the Docker provider ignores on update
// replace the container instead.
import * as crypto from "crypto";

export interface Endpoint {
  host: string;
  port: number;
}

export interface Healthcheck {
  tests: string[];
  interval: string;
  timeout: string;
  retries: number;
  startPeriod: string;
  startInterval: string;
}

/** Where a probe records that the server was ready since PID 1 started (kept per container start). */
const READY_MARKER = "/tmp/.trading-db-stack-ready";
/** A ready server is checked again after this long: one probe exec per ~10 s once up. */
const STEADY_SLEEP_SECONDS = 9;
/** How long one starting probe waits for readiness before it counts as a failure. */
const STARTING_WAIT_SECONDS = 20;

/**
 * A health probe that follows readiness within a second on any engine, without a probe exec every
 * second. Docker before API 1.44 ignores start_interval and first probes after `interval`, and each
 * probe exec costs ~0.1 s of CPU in the engine, so a 1 s interval would burn a tenth of a core per
 * container. Instead the interval is 1 s but a probe is long-lived: while the server is starting
 * (no marker for this PID 1) it polls `check` inside the container every 0.25 s and returns as soon
 * as the server is ready; once ready it sleeps 9 s, then checks once. A failed check clears the
 * marker, so the next probe watches closely again. `check` is a shell command.
 */
export function healthcheck(check: string, options: { checkTimeoutSeconds?: number } = {}): Healthcheck {
  const checkTimeout = options.checkTimeoutSeconds ?? 5;
  const probe = [
    `boot="$(cut -d' ' -f22 /proc/1/stat)"`,
    `if [ "$(cat ${READY_MARKER} 2>/dev/null)" = "$boot" ]; then sleep ${STEADY_SLEEP_SECONDS}; ${check} && exit 0; rm -f ${READY_MARKER}; exit 1; fi`,
    `end=$(($(date +%s) + ${STARTING_WAIT_SECONDS}))`,
    `until ${check}; do [ "$(date +%s)" -lt "$end" ] || exit 1; sleep 0.25; done`,
    `echo "$boot" > ${READY_MARKER}`,
  ].join("; ");
  return {
    tests: ["CMD-SHELL", probe],
    interval: "1s",
    timeout: `${Math.max(STEADY_SLEEP_SECONDS, STARTING_WAIT_SECONDS) + checkTimeout + 5}s`,
    retries: 3,
    // Failures while a large data folder recovers do not count; fixed, so no setting moves it.
    startPeriod: "300s",
    startInterval: "1s",
  };
}

/** Quotes words for a POSIX shell command line. */
export function shellCommand(words: string[]): string {
  return words.map((w) => (/^[A-Za-z0-9_.:\/=@%+-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/**
 * A script uploaded into a container, readable and executable by every user: the images drop from
 * root to their own user (postgres 999, pgAdmin 5050) and then run it again. The provider's
 * `executable: true` gives 0744 root-owned, which those users cannot execute.
 */
export function scriptUpload(file: string, content: string): { file: string; content: string; permissions: string } {
  return { file, content, permissions: "0755" };
}

/** Label holding a hash of the settings the Docker provider drops on update (the healthcheck). */
export const SPEC_HASH_LABEL = "com.trading-db-stack.spec-hash";

/**
 * The label's value. Labels force a new container, so a changed healthcheck replaces the container
 * (visible in `pulumi preview`) instead of being silently kept as it was
 * (kreuzwerker/terraform-provider-docker#988).
 */
export function specHash(ignoredOnUpdate: { healthcheck: Healthcheck }): string {
  const { healthcheck: h } = ignoredOnUpdate;
  const canonical = [h.tests, h.interval, h.timeout, h.retries, h.startPeriod, h.startInterval];
  return crypto.createHash("sha256").update(JSON.stringify(canonical)).digest("hex").slice(0, 16);
}
