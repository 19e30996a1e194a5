// Certificates for the TLS tests, made with the machine's openssl as @pulumi/tls makes the stack's
// (realiseTlsResource, which the real-engine suites realise the stack's own with): an ECDSA P-256
// CA, and server certificates it signs for given DNS names and IP addresses.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface TestCa {
  dir: string;
  certFile: string;
  keyFile: string;
  pem: string;
}

export interface TestServerCert {
  certFile: string;
  keyFile: string;
  pem: string;
  keyPem: string;
}

function openssl(args: string[], cwd: string): void {
  const result = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (result.error) throw new Error(`openssl is needed for the TLS tests (apt-get install openssl): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${result.stderr}`);
}

/** What Node's TLS says when a server's certificate does not chain to the CA a client was given. */
export const CERTIFICATE_REFUSED = /self[- ]signed certificate in certificate chain|unable to verify|unable to get local issuer/;

const ECDSA_P256 = { algorithm: "ECDSA", ecdsaCurve: "P256" };

/** A new CA in a folder of its own, made as the stack makes its own (realiseTlsResource below). */
export function makeTestCa(label: string): TestCa {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tls-${label}-`));
  // The servers (another OS user) read the CA certificate from here.
  fs.chmodSync(dir, 0o755);
  const key = realiseTlsResource("tls:index/privateKey:PrivateKey", ECDSA_P256).privateKeyPem as string;
  const pem = realiseTlsResource("tls:index/selfSignedCert:SelfSignedCert", {
    privateKeyPem: key,
    subject: { commonName: `${label} test CA` },
    isCaCertificate: true,
    allowedUses: ["cert_signing", "crl_signing"],
    validityPeriodHours: 48,
  }).certPem as string;
  const files = { certFile: path.join(dir, "ca.crt"), keyFile: path.join(dir, "ca.key") };
  fs.writeFileSync(files.keyFile, key, { mode: 0o600 });
  fs.writeFileSync(files.certFile, pem, { mode: 0o644 });
  return { dir, ...files, pem };
}

/** A server certificate signed by `ca` for these names, in `dir` (files named after `label`). */
export function issueTestCert(ca: TestCa, dir: string, label: string, names: { dns: string[]; ips: string[] }): TestServerCert {
  const keyPem = realiseTlsResource("tls:index/privateKey:PrivateKey", ECDSA_P256).privateKeyPem as string;
  const request = realiseTlsResource("tls:index/certRequest:CertRequest", { privateKeyPem: keyPem, subject: { commonName: names.dns[0] ?? names.ips[0] }, dnsNames: names.dns, ipAddresses: names.ips }).certRequestPem;
  const pem = realiseTlsResource("tls:index/locallySignedCert:LocallySignedCert", {
    certRequestPem: request,
    caCertPem: ca.pem,
    caPrivateKeyPem: fs.readFileSync(ca.keyFile, "utf8"),
    allowedUses: ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
    validityPeriodHours: 48,
  }).certPem as string;
  const files = { certFile: path.join(dir, `${label}.crt`), keyFile: path.join(dir, `${label}.key`) };
  fs.writeFileSync(files.keyFile, keyPem, { mode: 0o600 });
  fs.writeFileSync(files.certFile, pem);
  return { ...files, pem, keyPem };
}

/** openssl with files in a scratch folder: `files` written first, the named outputs read back. */
function opensslIn(files: Record<string, string>, steps: string[][], read: string[]): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tls-realise-"));
  try {
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content, { mode: 0o600 });
    for (const step of steps) openssl(step, dir);
    return Object.fromEntries(read.map((name) => [name, fs.readFileSync(path.join(dir, name), "utf8")]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** @pulumi/tls's allowed uses as openssl extensions. */
function usageExtensions(allowedUses: string[] = [], isCa = false): string {
  const key = { digital_signature: "digitalSignature", key_encipherment: "keyEncipherment", cert_signing: "keyCertSign", crl_signing: "cRLSign" } as Record<string, string>;
  const extended = { server_auth: "serverAuth", client_auth: "clientAuth" } as Record<string, string>;
  const keyUsage = allowedUses.filter((u) => key[u]).map((u) => key[u]);
  const extendedUsage = allowedUses.filter((u) => extended[u]).map((u) => extended[u]);
  return [
    `basicConstraints=critical,CA:${isCa ? "TRUE" : "FALSE"}`,
    ...(keyUsage.length ? [`keyUsage=critical,${keyUsage.join(",")}`] : []),
    ...(extendedUsage.length ? [`extendedKeyUsage=${extendedUsage.join(",")}`] : []),
  ].join("\n");
}

const subjectText = (subject: { commonName?: string; organization?: string } | undefined) =>
  `/${[subject?.organization && `O=${subject.organization}`, `CN=${subject?.commonName ?? "trading-db-stack"}`].filter(Boolean).join("/")}`;

/**
 * What @pulumi/tls's provider computes for a resource, made with openssl: the real engine suite
 * realises the stack's CA and certificates with it, so its servers run real TLS. Its outputs, by type.
 */
export function realiseTlsResource(type: string, inputs: Record<string, any>): Record<string, unknown> {
  const days = String(Math.max(1, Math.ceil((inputs.validityPeriodHours ?? 24) / 24)));
  switch (type) {
    case "tls:index/privateKey:PrivateKey": {
      if (inputs.algorithm !== "ECDSA" || inputs.ecdsaCurve !== "P256") throw new Error(`realiseTlsResource: only ECDSA P256 keys, got ${inputs.algorithm} ${inputs.ecdsaCurve}`);
      const { "key.pem": privateKeyPem } = opensslIn({}, [["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "key.pem"]], ["key.pem"]);
      return { privateKeyPem };
    }
    case "tls:index/selfSignedCert:SelfSignedCert": {
      const extensions = usageExtensions(inputs.allowedUses, inputs.isCaCertificate).split("\n").flatMap((e) => ["-addext", e]);
      const { "cert.pem": certPem } = opensslIn(
        { "key.pem": inputs.privateKeyPem },
        [["req", "-x509", "-new", "-key", "key.pem", "-sha256", "-days", days, "-subj", subjectText(inputs.subject), ...extensions, "-out", "cert.pem"]],
        ["cert.pem"],
      );
      return { certPem };
    }
    case "tls:index/certRequest:CertRequest": {
      const san = [...(inputs.dnsNames ?? []).map((d: string) => `DNS:${d}`), ...(inputs.ipAddresses ?? []).map((i: string) => `IP:${i}`)].join(",");
      const { "req.pem": certRequestPem } = opensslIn(
        { "key.pem": inputs.privateKeyPem },
        [["req", "-new", "-key", "key.pem", "-subj", subjectText(inputs.subject), ...(san ? ["-addext", `subjectAltName=${san}`] : []), "-out", "req.pem"]],
        ["req.pem"],
      );
      return { certRequestPem };
    }
    case "tls:index/locallySignedCert:LocallySignedCert": {
      const { "cert.pem": certPem } = opensslIn(
        { "req.pem": inputs.certRequestPem, "ca.pem": inputs.caCertPem, "ca.key": inputs.caPrivateKeyPem, "ext.cnf": usageExtensions(inputs.allowedUses, inputs.isCaCertificate) },
        [["x509", "-req", "-in", "req.pem", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", days, "-sha256", "-copy_extensions", "copy", "-extfile", "ext.cnf", "-out", "cert.pem"]],
        ["cert.pem"],
      );
      return { certPem };
    }
    default:
      throw new Error(`realiseTlsResource: no ${type}`);
  }
}
