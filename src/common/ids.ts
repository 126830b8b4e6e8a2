import { randomBytes } from 'node:crypto';

/** A new 64-hex-character ID, as Docker's. */
export function generateId(): string {
  return randomBytes(32).toString('hex');
}

/** The 12-character short form of an ID (or digest hex). */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

// Docker's generated names are adjective_surname; berth uses its own small word lists.
const ADJECTIVES = [
  'amazing', 'brave', 'calm', 'clever', 'cool', 'dazzling', 'eager', 'elastic', 'festive',
  'focused', 'gallant', 'gentle', 'happy', 'hopeful', 'jolly', 'keen', 'kind', 'laughing',
  'lucid', 'modest', 'nifty', 'nostalgic', 'optimistic', 'peaceful', 'practical', 'quirky',
  'relaxed', 'serene', 'sharp', 'stoic', 'sweet', 'tender', 'trusting', 'upbeat', 'vibrant',
  'wizardly', 'youthful', 'zealous',
];
const NOUNS = [
  'anchor', 'barge', 'beacon', 'buoy', 'capstan', 'cutter', 'dinghy', 'dory', 'ferry',
  'frigate', 'galleon', 'harbor', 'hull', 'jetty', 'keel', 'ketch', 'lighthouse', 'mast',
  'mooring', 'pier', 'quay', 'rudder', 'schooner', 'sloop', 'tender', 'tugboat', 'wharf',
  'yawl', 'lovelace', 'hopper', 'turing', 'curie', 'noether', 'shannon', 'ritchie', 'torvalds',
];

/** A random `adjective_noun` name; `taken` decides whether to add a numeric suffix. */
export function generateName(taken: (name: string) => boolean): string {
  for (let attempt = 0; attempt < 64; attempt++) {
    const a = ADJECTIVES[randomBytes(1)[0]! % ADJECTIVES.length];
    const n = NOUNS[randomBytes(1)[0]! % NOUNS.length];
    const name = attempt < 8 ? `${a}_${n}` : `${a}_${n}${attempt}`;
    if (!taken(name)) return name;
  }
  return `berth_${randomBytes(6).toString('hex')}`;
}

/** Docker's rule for user-given container names. */
export const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
