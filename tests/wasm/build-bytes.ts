/**
 * Hand-assembled modules for hostile-encoding tests: byte sequences wabt refuses to
 * write (unknown prefixes, overlong LEBs, truncated immediates, typed references)
 * are exactly what these tests need.
 */

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** Appends without spreading (bodies of a million bytes overflow the call stack when spread). */
function cat(...parts: number[][]): number[] {
  const out: number[] = [];
  for (const p of parts) for (let i = 0; i < p.length; i++) out.push(p[i]!);
  return out;
}

export function section(id: number, payload: number[]): number[] {
  return cat([id], uleb(payload.length), payload);
}

export function vec(items: number[][]): number[] {
  return cat(uleb(items.length), ...items);
}

export interface ModuleSpec {
  /** Function types as [params, results] byte lists; default one `() -> ()`. */
  types?: Array<[number[], number[]]>;
  /** Function bodies: instruction bytes (without the final `end`, unless rawBodies). */
  bodies: number[][];
  /** Local declarations per body: [count, type] runs. */
  locals?: Array<Array<[number, number]>>;
  /** The bodies already end with their own final `end` (or deliberately do not). */
  rawBodies?: boolean;
  /** Extra sections inserted before the function section, as [id, payload]. */
  before?: Array<[number, number[]]>;
  /** Exported as `_start` when set (function index). */
  exportStart?: number;
}

export function buildModule(spec: ModuleSpec): Uint8Array {
  const types = spec.types ?? [[[], []]];
  const out = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
  const parts: number[][] = [out];
  parts.push(section(1, vec(types.map(([p, r]) => cat([0x60], vec(p.map((t) => [t])), vec(r.map((t) => [t])))))));
  const before = spec.before ?? [];
  for (const [id, payload] of before.filter(([id]) => id === 2)) parts.push(section(id, payload));
  parts.push(section(3, vec(spec.bodies.map(() => [0]))));
  for (const [id, payload] of before.filter(([id]) => id !== 2)) parts.push(section(id, payload));
  if (spec.exportStart !== undefined) parts.push(section(7, vec([[...uleb(6), ...new TextEncoder().encode("_start"), 0, ...uleb(spec.exportStart)]])));
  const bodies = spec.bodies.map((b, i) => {
    const locals = spec.locals?.[i] ?? [];
    const inner = cat(vec(locals.map(([n, t]) => [...uleb(n), t])), b, spec.rawBodies ? [] : [0x0b]);
    return cat(uleb(inner.length), inner);
  });
  parts.push(section(10, vec(bodies)));
  return new Uint8Array(cat(...parts));
}

/** A one-function module `() -> ()` with this body (final `end` added). */
export function oneFunc(body: number[], extra: Partial<ModuleSpec> = {}): Uint8Array {
  return buildModule({ bodies: [body], ...extra });
}
