// Validates operator objects (CloudNativePG's Cluster, Database, ...) against their CRDs'
// openAPIV3Schema from ../shared/contracts/cloudnative-pg, as the core objects are validated
// against the official Kubernetes schema. No API server runs here, so this is the check.
//
// Stricter than the API server in one way: where a schema lists an object's properties and neither
// allows others nor says to keep unknown fields, an unknown field is an error. The API server
// would prune it without a word, so a misspelt field (`primaryUpdateMethods`) would be dropped and
// the operator's default taken; here it fails.
import * as fs from "fs";
import * as path from "path";
import Ajv, { type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import YAML from "yaml";
import { ROOT } from "./pulumi";

export const CNPG_CONTRACTS = path.resolve(ROOT, "../shared/contracts/cloudnative-pg");
export const CNPG_MANIFEST = path.join(CNPG_CONTRACTS, "cnpg-1.29.2.yaml");

type Schema = Record<string, unknown>;

/** kind in group/version -> validator, from every CustomResourceDefinition of the manifests. */
export function loadCrdValidators(files: string[] = [CNPG_MANIFEST]): Map<string, ValidateFunction> {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  // Kubernetes' own formats: numbers whose range the schema's type already bounds, and quantities.
  for (const format of ["int32", "int64", "byte", "quantity"]) ajv.addFormat(format, true);
  const validators = new Map<string, ValidateFunction>();
  for (const file of files) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: the operator objects are validated against the CRDs in ../shared/contracts/cloudnative-pg`);
    for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, "utf8")).map((d) => d.toJS())) {
      if (doc?.kind !== "CustomResourceDefinition") continue;
      for (const version of doc.spec.versions) {
        const schema = closed(structuredClone(version.schema.openAPIV3Schema));
        validators.set(`${doc.spec.group}/${version.name}/${doc.spec.names.kind}`, ajv.compile(schema));
      }
    }
  }
  return validators;
}

/** Objects that list their properties admit no others, unless the schema says otherwise. */
function closed(schema: Schema): Schema {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== "object") return;
    const s = node as Schema;
    if (s.properties && s.additionalProperties === undefined && !s["x-kubernetes-preserve-unknown-fields"]) s.additionalProperties = false;
    for (const value of Object.values(s)) visit(value);
  };
  visit(schema);
  // metadata is ObjectMeta, which a CRD does not describe.
  return schema;
}

/** The errors of one object against its CRD: [] when valid. */
export function crdErrors(validators: Map<string, ValidateFunction>, object: { apiVersion: string; kind: string }): string[] {
  const validate = validators.get(`${object.apiVersion}/${object.kind}`);
  if (!validate) throw new Error(`no CRD for ${object.apiVersion} ${object.kind} in the contracts`);
  if (validate(object)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}${e.params && "additionalProperty" in e.params ? `: ${e.params.additionalProperty}` : ""}`);
}
