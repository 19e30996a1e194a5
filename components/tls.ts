// The stack's own certificate authority and a certificate per server (@pulumi/tls), when `tls` is
// on. The CA lives in the stack's state (its key a secret) and signs each server's certificate
// for every name the server is reached by; the services and tools verify against the CA
// certificate (the tls output's caCertificate). A certificate within its renewal window at `pulumi
// up` is made anew (the provider's early renewal): the server restarts on it once.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

/** How long the CA and each server certificate are valid, and how long before the end `up` renews them. */
export const TLS_VALIDITY = {
  caHours: 10 * 365 * 24,
  caRenewalHours: 365 * 24,
  serverHours: 2 * 365 * 24,
  serverRenewalHours: 30 * 24,
} as const;

/** Where a server finds its certificate, key and the CA inside its container (secret files, the server user's, 0400). */
export const TLS_PATHS = {
  certificate: "/run/secrets/tls-server.crt",
  key: "/run/secrets/tls-server.key",
  /** Certificate and key in one file, as mongod reads them (tlsCertificateKeyFile). */
  certificateAndKey: "/run/secrets/tls-server.pem",
  ca: "/run/secrets/tls-ca.crt",
} as const;

/** The names a server's certificate holds: DNS names and IP addresses. */
export interface CertificateNames {
  dnsNames: string[];
  ipAddresses: string[];
}

/**
 * Docker: a server is reached by its network aliases and container name from other containers,
 * and through its port published on 127.0.0.1 (or `localhost`) from the host.
 */
export function dockerCertificateNames(aliases: string[], containerName: string): CertificateNames {
  return { dnsNames: [...new Set([...aliases, containerName, "localhost"])], ipAddresses: ["127.0.0.1"] };
}

/**
 * Kubernetes: each Service by every name a pod resolves it by (<svc>, <svc>.<ns>, <svc>.<ns>.svc,
 * <svc>.<ns>.svc.<domain>), the pods' own DNS names, and `localhost` and 127.0.0.1, where a
 * port-forward (the hooks, npm run verify and forward) arrives.
 */
export function kubernetesCertificateNames(services: string[], namespace: string, clusterDomain: string, podNames: string[] = []): CertificateNames {
  const forms = services.flatMap((s) => [s, `${s}.${namespace}`, `${s}.${namespace}.svc`, `${s}.${namespace}.svc.${clusterDomain}`]);
  return { dnsNames: [...new Set([...forms, ...podNames, "localhost"])], ipAddresses: ["127.0.0.1"] };
}

/** A server's certificate and key (secret), with the CA that signed it. */
export interface ServerCertificate {
  certificate: pulumi.Output<string>;
  key: pulumi.Output<string>;
  ca: pulumi.Output<string>;
}

/** The secrets a server spec's TLS files take, by credential name (see tlsSecretFiles). */
export function tlsSecrets(cert: ServerCertificate): Record<string, pulumi.Input<string>> {
  return { tlsCertificate: cert.certificate, tlsKey: cert.key, tlsCa: cert.ca };
}

/** The CA certificate as a secret file of the server's (or admin tool's) user, credential "tlsCa". */
export const TLS_CA_FILE = { path: TLS_PATHS.ca, credential: "tlsCa" };

/** What a hook or admin tool takes with `tls`: the CA it verifies the servers against (`tlsCa`); nothing without. */
export function verifyingCa(tls: ServerTls | undefined): { tlsCa?: pulumi.Output<string> } {
  return tls ? { tlsCa: tls.certificates.caCertificate } : {};
}

/** The secrets of a server that reads certificate and key from one file (mongod): see tlsKeyPairSecretFiles. */
export function tlsKeyPairSecrets(cert: ServerCertificate): Record<string, pulumi.Input<string>> {
  return { tlsCertificateAndKey: pulumi.secret(pulumi.all([cert.certificate, cert.key]).apply(([c, k]) => `${c.trimEnd()}\n${k}`)), tlsCa: cert.ca };
}

/** Certificate and key in one file, and the CA: secret files of the server's user. */
export function tlsKeyPairSecretFiles(): Array<{ path: string; credential: string }> {
  return [
    { path: TLS_PATHS.certificateAndKey, credential: "tlsCertificateAndKey" },
    TLS_CA_FILE,
  ];
}

/** The TLS files of a server spec: certificate, key and CA, each a secret file of the server's user. */
export function tlsSecretFiles(): Array<{ path: string; credential: string }> {
  return [
    { path: TLS_PATHS.certificate, credential: "tlsCertificate" },
    { path: TLS_PATHS.key, credential: "tlsKey" },
    TLS_CA_FILE,
  ];
}

/** What a server component takes with `tls`: the CA that issues its certificate, and where its clients read the CA. */
export interface ServerTls {
  certificates: StackCertificates;
  client: { caFile: string };
}

export interface StackCertificatesArgs {
  /** The stack's name prefix, in the CA's subject. */
  namePrefix: string;
}

export class StackCertificates extends pulumi.ComponentResource {
  /** The CA certificate (PEM): what every client verifies the servers against. Not secret. */
  readonly caCertificate: pulumi.Output<string>;
  private readonly caKey: tls.PrivateKey;

  constructor(
    private readonly name: string,
    args: StackCertificatesArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("trading:tls:Certificates", name, {}, opts);
    this.caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
    const ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: this.caKey.privateKeyPem,
        subject: { commonName: `${args.namePrefix} database stack CA`, organization: "trading-db-stack" },
        isCaCertificate: true,
        allowedUses: ["cert_signing", "crl_signing"],
        validityPeriodHours: TLS_VALIDITY.caHours,
        earlyRenewalHours: TLS_VALIDITY.caRenewalHours,
      },
      { parent: this },
    );
    this.caCertificate = ca.certPem;
    this.registerOutputs({ caCertificate: this.caCertificate });
  }

  /**
   * A key and a certificate for `server` (resources `${name}-<server>-…`, children of this
   * component), valid for every name in `names`. The release that brought tls made them children
   * of the server's component (`formerParent`): aliased, so a stack made then keeps them.
   */
  issue(server: string, names: CertificateNames, formerParent: pulumi.Resource): ServerCertificate {
    const opts: pulumi.CustomResourceOptions = { parent: this, aliases: [{ parent: formerParent }] };
    const key = new tls.PrivateKey(`${this.name}-${server}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, opts);
    const request = new tls.CertRequest(
      `${this.name}-${server}-request`,
      { privateKeyPem: key.privateKeyPem, subject: { commonName: names.dnsNames[0] }, dnsNames: names.dnsNames, ipAddresses: names.ipAddresses },
      opts,
    );
    const certificate = new tls.LocallySignedCert(
      `${this.name}-${server}-certificate`,
      {
        certRequestPem: request.certRequestPem,
        caPrivateKeyPem: this.caKey.privateKeyPem,
        caCertPem: this.caCertificate,
        // client_auth too: a MongoDB member presents its certificate to the others.
        allowedUses: ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
        validityPeriodHours: TLS_VALIDITY.serverHours,
        earlyRenewalHours: TLS_VALIDITY.serverRenewalHours,
      },
      opts,
    );
    return { certificate: certificate.certPem, key: pulumi.secret(key.privateKeyPem), ca: this.caCertificate };
  }
}
