// Connection helper shared by the PostgreSQL hooks. Runs inside the serialised dynamic provider:
// npm packages are required inside the function, nothing else is imported at run time.
import type { Client } from "pg";

export interface PgConnection {
  host: string;
  port: number;
  /** What messages call the server (init/access.ts), host:port when absent. */
  label?: string;
  user: string;
  password: string;
  database: string;
  /** The CA (PEM) the server's certificate must chain to: TLS, verifying the certificate and the host name or address. */
  tlsCa?: string;
}

/**
 * Connects, retrying while the server is not yet accepting connections, for at most
 * `timeoutSeconds`. Authentication and other errors fail at once: waiting will not fix them, unless
 * an operator makes the role or database, or applies its password (`waitForOperator`).
 */
export async function connectPostgres({ label, tlsCa, ...conn }: PgConnection, timeoutSeconds: number, applicationName = "trading-db-stack", options: { waitForOperator?: boolean } = {}): Promise<Client> {
  const pg = require("pg") as typeof import("pg");
  // Worth another try while a server is starting or restarting; anything else (bad password...) is final.
  const retryable = ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EAI_AGAIN", "57P03" /* cannot_connect_now */, "53300" /* too_many_connections */];
  // An operator makes roles and databases, applies changed passwords, and reloads a changed
  // certificate or pg_hba (tls turned on or off) a moment after it is asked: until then the server
  // shows its former certificate, or refuses the connection by its former rules.
  if (options.waitForOperator) {
    retryable.push(
      "28P01" /* invalid_password: the role or its password not there yet */,
      "3D000" /* invalid_catalog_name */,
      "28000" /* invalid_authorization_specification: a pg_hba rule not reloaded yet */,
      "SELF_SIGNED_CERT_IN_CHAIN",
      "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      "ERR_TLS_CERT_ALTNAME_INVALID",
    );
  }
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (let attempt = 1; ; attempt++) {
    const client = new pg.Client({
      ...conn,
      application_name: applicationName,
      ...(tlsCa ? { ssl: { ca: tlsCa, rejectUnauthorized: true } } : {}),
      connectionTimeoutMillis: 5000,
      // If this process dies (a killed `pulumi up`), the server notices within a second and rolls back,
      // instead of finishing the statement and holding its locks until then.
      options: "-c client_connection_check_interval=1000",
    });
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      const code = (error as { code?: string }).code ?? "";
      if (!retryable.includes(code) || Date.now() + 500 > deadline) {
        const where = `${conn.user}@${label ?? `${conn.host}:${conn.port}`}/${conn.database}`;
        throw new Error(`PostgreSQL ${where}: cannot connect after ${attempt} attempt(s): ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(200 * attempt, 1000)));
    }
  }
}

/** Double-quotes an identifier for SQL (names here come from code, but are quoted all the same). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Single-quotes a literal, for the utility statements that take no bind parameters (CREATE ROLE ... PASSWORD). */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
