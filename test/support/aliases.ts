// What the Pulumi engine does with a program's aliases against a stack's existing state: which old
// resource each new one takes over, which are created and which deleted. A port of the engine's
// step generator (pkg/resource/deploy/step_generator.go in pulumi/pulumi: collapseAliasToUrn,
// inheritedChildAlias, generateAliases and the old-state lookup of getOldResource), since the mocks
// record aliases but apply none. Resources are taken in registration order, parents first, as the
// engine sees them. Not modelled, as nothing here depends on it: the root-stack parent
// (parentIsRootStack; the program's components are parented to the stack in both states alike) and
// an alias naming another stack or project through its parent.
import type { AliasSent, MockedResource } from "./pulumi";

export interface AliasOutcome {
  /** New URN -> the old URN whose state it takes over through an alias. */
  renamed: Map<string, string>;
  /** New resources with no old state: `pulumi up` creates them. */
  created: string[];
  /** Old resources nothing claims: `pulumi up` deletes them. */
  deleted: string[];
  /** What the engine refuses (two resources claiming one old state). */
  errors: string[];
}

const parts = (urn: string) => {
  const [, , qualifiedType, name] = urn.split("::");
  const stack = urn.split("::")[0].slice("urn:pulumi:".length);
  return { stack, project: urn.split("::")[1], qualifiedType, type: qualifiedType.split("$").pop() ?? "", name };
};

/** resource.CreateURN: the parent's qualified type, then the type and the name. */
function createUrn(name: string, type: string, parentUrn: string, project: string, stack: string): string {
  const chain = parentUrn ? `${parts(parentUrn).qualifiedType}$${type}` : type;
  return `urn:pulumi:${stack}::${project}::${chain}::${name}`;
}

export function applyAliases(oldUrns: Iterable<string>, resources: MockedResource[]): AliasOutcome {
  const olds = new Set(oldUrns);
  const aliasOf = new Map<string, string>(); // sg.aliases: new URN -> the old URN it matched through an alias
  const aliased = new Map<string, string>(); // sg.aliased: old URN -> the new URN that claimed it
  const seen = new Set<string>();
  const outcome: AliasOutcome = { renamed: new Map(), created: [], deleted: [], errors: [] };

  for (const r of resources) {
    const { urn, parentUrn, aliases } = r.options;
    const { stack, project } = parts(urn);
    const parentName = parentUrn ? parts(parentUrn).name : "";
    const collapse = (alias: AliasSent): string => {
      if ("urn" in alias) return alias.urn;
      let parent = alias.parentUrn || parentUrn;
      if (alias.parentUrn && aliasOf.has(alias.parentUrn)) parent = aliasOf.get(alias.parentUrn)!;
      if (alias.noParent) parent = "";
      return createUrn(alias.name || r.name, alias.type || r.type, parent, alias.project || project, alias.stack || stack);
    };
    const inherited = (childType: string, childName: string, parentAlias: string) => {
      const aliasName = childName.startsWith(parentName) ? parts(parentAlias).name + childName.slice(parentName.length) : childName;
      return `urn:pulumi:${stack}::${project}::${parts(parentAlias).qualifiedType}$${childType}::${aliasName}`;
    };

    const candidates: string[] = aliases.map(collapse);
    const parentAlias = parentUrn ? aliasOf.get(parentUrn) : undefined;
    if (parentAlias) {
      candidates.push(inherited(r.type, r.name, parentAlias));
      for (const alias of aliases.map(collapse)) candidates.push(inherited(parts(alias).type, parts(alias).name, parentAlias));
    }

    if (aliased.has(urn)) outcome.errors.push(`${urn} is claimed through an alias by ${aliased.get(urn)}`);
    let found = false;
    for (const candidate of [urn, ...candidates]) {
      if (!olds.has(candidate)) continue;
      found = true;
      if (candidate !== urn) {
        if (seen.has(candidate)) outcome.errors.push(`${urn} aliases ${candidate}, which a resource of the program has as its own URN`);
        if (aliased.has(candidate)) outcome.errors.push(`${urn} and ${aliased.get(candidate)} both alias ${candidate}`);
        aliased.set(candidate, urn);
        aliasOf.set(urn, candidate);
        outcome.renamed.set(urn, candidate);
      }
      break;
    }
    if (!found) outcome.created.push(urn);
    seen.add(urn);
  }
  outcome.deleted = [...olds].filter((old) => !seen.has(old) && !aliased.has(old)).sort();
  return outcome;
}
