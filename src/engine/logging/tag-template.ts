import { InvalidParameterError } from '../../common/errors.js';

/**
 * Docker's log tag templates (`--log-opt tag=...`): Go-template text with the container's
 * fields `{{.ID}}` (12 characters), `{{.FullID}}`, `{{.Name}}`, `{{.ImageID}}`, `{{.ImageFullID}}`,
 * `{{.ImageName}}` and `{{.DaemonName}}`. Anything else inside `{{ }}` is refused at create.
 */
export interface TagContext {
  id: string;
  name: string;
  imageId: string;
  imageName: string;
  daemonName: string;
}

const FIELDS: Record<string, (c: TagContext) => string> = {
  ID: (c) => c.id.slice(0, 12),
  FullID: (c) => c.id,
  Name: (c) => c.name.replace(/^\//, ''),
  ImageID: (c) => c.imageId.replace(/^sha256:/, '').slice(0, 12),
  ImageFullID: (c) => c.imageId,
  ImageName: (c) => c.imageName,
  DaemonName: (c) => c.daemonName,
};

type Part = string | { field: string };

export function parseTagTemplate(text: string): Part[] {
  const parts: Part[] = [];
  const re = /\{\{\s*(.*?)\s*\}\}/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    const f = /^\.([A-Za-z]+)$/.exec(m[1]!);
    if (!f || !FIELDS[f[1]!]) throw new InvalidParameterError(`invalid log tag template "${text}": unknown field ${m[1]} (use .ID, .FullID, .Name, .ImageID, .ImageFullID, .ImageName or .DaemonName)`);
    parts.push({ field: f[1]! });
    last = re.lastIndex;
  }
  const rest = text.slice(last);
  if (rest.includes('{{') || rest.includes('}}')) throw new InvalidParameterError(`invalid log tag template "${text}": unbalanced braces`);
  if (rest) parts.push(rest);
  return parts;
}

/** The tag for a container; an empty or absent template gives `{{.ID}}`, Docker's default. */
export function renderTag(template: string | undefined, ctx: TagContext): string {
  const parts = parseTagTemplate(template || '{{.ID}}');
  return parts.map((p) => (typeof p === 'string' ? p : FIELDS[p.field]!(ctx))).join('');
}
