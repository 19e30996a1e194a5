// What every container spec shares: endpoints and the healthcheck shape `wait: true` relies on.

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

/**
 * Checked every second while starting (up to `startPeriodSeconds`, the wait timeout), then every
 * 10 s; unhealthy after 3 failures in a row.
 */
export function healthcheck(tests: string[], startPeriodSeconds: number, options: { timeoutSeconds?: number; startIntervalSeconds?: number } = {}): Healthcheck {
  return {
    tests,
    interval: "10s",
    timeout: `${options.timeoutSeconds ?? 5}s`,
    retries: 3,
    startPeriod: `${startPeriodSeconds}s`,
    startInterval: `${options.startIntervalSeconds ?? 1}s`,
  };
}
