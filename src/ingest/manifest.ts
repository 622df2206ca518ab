/**
 * The platform manifest: what the integrator declares about the platform that no trace can show
 * (pass-through, inter-VM networking, TrustZone access, consoles in production, composition
 * policy, ...). YAML or JSON (JSON is YAML), validated with zod; every declaration keeps the line it
 * stands on so that a DECLARED verdict cites `file:line`. Errors name the file, the line and the key.
 */
import { isMap, LineCounter, parseDocument, type Node } from 'yaml';
import { z } from 'zod';
import { InputError } from './errors.ts';
import { readTextBounded } from '../io/bounded-read.ts';

/** true / false, or a sentence saying how (which counts as true). */
const Claim = z.union([z.boolean(), z.string().min(1)], { error: 'expected true, false or a sentence saying how' });

export const ManifestSchema = z
  .object({
    /** what the manifest describes, for the report */
    platform: z.string().optional(),
    /** the guest architecture: x86 has no device tree, so -3 and -42 do not apply there */
    arch: z.enum(['arm64', 'x86_64']).optional(),
    boot: z.object({ dynamic: z.boolean().optional(), ebbr: Claim.optional() }).strict().optional(),
    network: z.object({ nic_passthrough: Claim.optional(), inter_vm: Claim.optional(), mac_whitelist: Claim.optional() }).strict().optional(),
    usb: z.object({ host_controller_passthrough: Claim.optional(), runtime_api: Claim.optional() }).strict().optional(),
    gpio: z.object({ passthrough: Claim.optional(), emulated_block: Claim.optional() }).strict().optional(),
    graphics: z
      .object({
        virtualization_api: Claim.optional(),
        output_isolation: Claim.optional(),
        single_output_assignment: Claim.optional(),
        composition: Claim.optional(),
        composition_policy: Claim.optional(),
      })
      .strict()
      .optional(),
    iommu: z.object({ dma_protection: Claim.optional(), guest_programmable: Claim.optional() }).strict().optional(),
    trustzone: z.object({ native_smc: Claim.optional() }).strict().optional(),
    consoles: z
      .object({
        os_standard: Claim.optional(),
        production_disabled: Claim.optional(),
        guest_cannot_enable: Claim.optional(),
        countermeasures: Claim.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ManifestData = z.infer<typeof ManifestSchema>;

/** A declaration with where it stands: `network.nic_passthrough` at manifest.yaml:7. */
export interface Declaration {
  key: string;
  value: boolean | string;
  file: string;
  line: number;
  /** the manifest's line, for the evidence */
  text: string;
}

export interface Manifest {
  file: string;
  data: ManifestData;
  /** the declaration at a dotted key, or undefined when the manifest does not say */
  get(key: string): Declaration | undefined;
}

function lineOf(node: Node | null | undefined, lc: LineCounter): number {
  const at = node?.range?.[0];
  return at === undefined ? 1 : lc.linePos(at).line;
}

/** The map node at a path of keys in the document (the manifest nests maps only). */
function nodeAt(root: Node | null, path: PropertyKey[]): Node | null | undefined {
  let n: unknown = root;
  for (const k of path) {
    if (!isMap(n)) return undefined;
    n = n.get(String(k), true);
  }
  return n as Node | undefined;
}

/** A manifest is a page of declarations: 1 MiB is far more than any needs. */
const MAX_MANIFEST_BYTES = 1 << 20;

export function readManifest(file: string): Manifest {
  const text = readTextBounded(file, MAX_MANIFEST_BYTES, 'manifest');
  const lc = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  let value: unknown;
  try {
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    value = doc.errors.length > 0 ? undefined : doc.toJS();
  } catch (e) {
    // a pathologically nested document exhausts the parser's stack: the file's fault, not ours
    if (e instanceof RangeError) throw new InputError('the manifest is nested too deeply to be one', file);
    throw e;
  }
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    throw new InputError(`not valid YAML: ${err.message.split('\n')[0]}`, file, lc.linePos(err.pos[0]).line);
  }
  const parsed = ManifestSchema.safeParse(value ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // an unknown key is reported at that key, not at its parent
    const keys = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
    const node = issue.code === 'unrecognized_keys' ? findKey(doc.contents, issue.path, issue.keys[0]!) : nodeAt(doc.contents, issue.path);
    const key = keys.map(String).join('.') || '(top level)';
    throw new InputError(`${key}: ${issue.message}`, file, lineOf(node ?? doc.contents, lc));
  }
  const lines = text.split('\n');
  const data = parsed.data;
  return {
    file,
    data,
    get(key: string): Declaration | undefined {
      const path = key.split('.');
      let v: unknown = data;
      for (const k of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
      if (typeof v !== 'boolean' && typeof v !== 'string') return undefined;
      const line = lineOf(findKey(doc.contents, path.slice(0, -1), path.at(-1)!), lc);
      return { key, value: v, file, line, text: lines[line - 1]?.trim() ?? key };
    },
  };
}

/** The key node of `key` in the map at `path` (its line is the declaration's). */
function findKey(root: Node | null, path: PropertyKey[], key: string): Node | undefined {
  const map = nodeAt(root, path);
  if (!isMap(map)) return undefined;
  const pair = map.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
  return (pair?.key as Node | undefined) ?? undefined;
}
