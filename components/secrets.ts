import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { POSTGRES_DATABASES, POSTGRES_ROLES } from "./postgres-spec";

// Every credential of the stack, generated once by @pulumi/random and kept in the stack state
// (encrypted). Nothing is defaulted: there is no password a user could forget to change.

export interface StackSecretsArgs {
  /** Length of generated passwords; alphanumeric so they need no quoting in URIs and conninfo strings. */
  passwordLength?: number;
}

export interface PostgresSecrets {
  superuser: pulumi.Output<string>;
  replication: pulumi.Output<string>;
  /** Owner role password per database name. */
  owners: Record<string, pulumi.Output<string>>;
  readonly: pulumi.Output<string>;
}

export class StackSecrets extends pulumi.ComponentResource {
  readonly postgres: PostgresSecrets;

  constructor(name: string, args: StackSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trading:secrets:StackSecrets", name, {}, opts);
    const length = args.passwordLength ?? 32;
    const password = (id: string) =>
      new random.RandomPassword(id, { length, special: false, minLower: 2, minUpper: 2, minNumeric: 2 }, { parent: this })
        .result;

    const owners: Record<string, pulumi.Output<string>> = {};
    for (const db of POSTGRES_DATABASES) owners[db.name] = password(`postgres-${db.owner.replace(/_/g, "-")}-password`);

    this.postgres = {
      superuser: password(`postgres-${POSTGRES_ROLES.superuser}-password`),
      replication: password(`postgres-${POSTGRES_ROLES.replication}-password`),
      owners,
      readonly: password(`postgres-${POSTGRES_ROLES.readonly.replace(/_/g, "-")}-password`),
    };
    this.registerOutputs({});
  }
}
