// Certificates for the TLS tests, made with the machine's openssl as @pulumi/tls makes the stack's:
// an ECDSA P-256 CA, and server certificates it signs for given DNS names and IP addresses.
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

/** A new CA in a folder of its own. */
export function makeTestCa(label: string): TestCa {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tls-${label}-`));
  // The servers (another OS user) read the CA certificate from here.
  fs.chmodSync(dir, 0o755);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"], dir);
  openssl(["req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2", "-subj", `/CN=${label} test CA`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.crt"], dir);
  return { dir, certFile: path.join(dir, "ca.crt"), keyFile: path.join(dir, "ca.key"), pem: fs.readFileSync(path.join(dir, "ca.crt"), "utf8") };
}

/** A server certificate signed by `ca` for these names, in `dir` (files named after `label`). */
export function issueTestCert(ca: TestCa, dir: string, label: string, names: { dns: string[]; ips: string[] }): TestServerCert {
  const key = path.join(dir, `${label}.key`);
  const csr = path.join(dir, `${label}.csr`);
  const cert = path.join(dir, `${label}.crt`);
  const ext = path.join(dir, `${label}.ext`);
  const san = [...names.dns.map((d) => `DNS:${d}`), ...names.ips.map((i) => `IP:${i}`)].join(",");
  fs.writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n`);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], dir);
  openssl(["req", "-new", "-key", key, "-subj", `/CN=${names.dns[0] ?? names.ips[0]}`, "-out", csr], dir);
  openssl(["x509", "-req", "-in", csr, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext, "-out", cert], dir);
  return { certFile: cert, keyFile: key, pem: fs.readFileSync(cert, "utf8"), keyPem: fs.readFileSync(key, "utf8") };
}
