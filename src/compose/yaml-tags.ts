import type { Tags } from 'yaml';

/**
 * The compose specification's merge tags: `!reset` clears an attribute set by an earlier file,
 * `!override` replaces it whole instead of merging (13-merge.md). The YAML loader turns them
 * into these markers; the merger consumes them.
 */
export class ResetMarker {
  constructor(readonly value: unknown) {}
}
export class OverrideMarker {
  constructor(readonly value: unknown) {}
}

function tagsFor(): Tags {
  const make = (tag: string, collection: 'map' | 'seq' | undefined, Marker: typeof ResetMarker) => ({
    tag,
    ...(collection ? { collection } : {}),
    resolve(value: unknown) {
      const plain = value && typeof (value as { toJSON?: unknown }).toJSON === 'function' ? (value as { toJSON(): unknown }).toJSON() : value;
      return new Marker(plain);
    },
  });
  return [
    make('!reset', undefined, ResetMarker),
    make('!reset', 'map', ResetMarker),
    make('!reset', 'seq', ResetMarker),
    make('!override', undefined, OverrideMarker),
    make('!override', 'map', OverrideMarker),
    make('!override', 'seq', OverrideMarker),
  ] as unknown as Tags;
}

export const COMPOSE_TAGS = tagsFor();

/** Removes the markers: a reset value becomes absent, an override its value. */
export function stripMarkers(node: unknown): unknown {
  if (node instanceof ResetMarker) return undefined;
  if (node instanceof OverrideMarker) return stripMarkers(node.value);
  if (Array.isArray(node)) return node.map(stripMarkers).filter((v) => v !== undefined);
  if (node && typeof node === 'object' && !(node instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      const s = stripMarkers(v);
      if (s !== undefined) out[k] = s;
    }
    return out;
  }
  return node;
}
