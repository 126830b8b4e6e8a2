import { alignColumns } from './tabwriter.js';
import { GO_TYPE, parseTemplate, type Template } from './template.js';

/**
 * Renders rows with a docker `--format` value, as docker/cli's `formatter.Context` does:
 * `table` / `table TEMPLATE` (header row, tab-aligned columns), `json` (one JSON object per
 * line), or a bare template (one rendered line per row). Literal `\t` and `\n` in the format
 * become tab and newline.
 */
export interface ListFormat {
  /** The `--format` value ('' means the default table). */
  format: string;
  /** The default `table …` template for this kind of list. */
  defaultTable: string;
  /** Field name → column header. */
  headers: Record<string, string>;
}

const TABLE = 'table';

/** Parses the format once; throws TemplateError for malformed templates. */
export function compileListFormat(spec: ListFormat): { template: Template; table: boolean } {
  let format = spec.format || TABLE;
  if (format === TABLE) format = spec.defaultTable;
  if (format === 'json') format = '{{json .}}';
  const table = format.startsWith(TABLE);
  if (table) format = format.slice(TABLE.length);
  format = format.trim().replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return { template: parseTemplate(format), table };
}

function headerContext(headers: Record<string, string>): object {
  const ctx: Record<string | symbol, unknown> = { [GO_TYPE]: 'formatter.SubHeaderContext' };
  for (const [k, v] of Object.entries(headers)) {
    // Methods with arguments (`.Label "k"`) render their generic header.
    ctx[k] = k === 'Label' ? (_name: string) => v : v;
  }
  return ctx;
}

/** Renders all rows to a string ready to print. */
export function renderList(spec: ListFormat, rows: object[]): string {
  const { template, table } = compileListFormat(spec);
  let out = '';
  if (table) out += `${template.execute(headerContext(spec.headers))}\n`;
  for (const row of rows) out += `${template.execute(row)}\n`;
  return table ? alignColumns(out) : out;
}
