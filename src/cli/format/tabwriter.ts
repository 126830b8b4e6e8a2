/**
 * Column alignment as Go's text/tabwriter does for docker's tables
 * (`tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`): a tab ends a cell; each column is as wide as
 * its widest cell plus 3 spaces of padding, and at least 10; the text after a line's last tab is
 * not padded. Columns are aligned within blocks of consecutive lines that have that column,
 * as in Go.
 */
export function alignColumns(text: string, options: { minWidth?: number; padding?: number } = {}): string {
  const minWidth = options.minWidth ?? 10;
  const padding = options.padding ?? 3;
  const trailingNewline = text.endsWith('\n');
  const lines = (trailingNewline ? text.slice(0, -1) : text).split('\n').map((l) => l.split('\t'));
  const widths: number[][] = lines.map(() => []);
  // For column c, a block is a maximal run of lines having more than c+1 cells.
  const maxCols = Math.max(0, ...lines.map((l) => l.length - 1));
  for (let c = 0; c < maxCols; c++) {
    let start = 0;
    while (start < lines.length) {
      if (lines[start]!.length - 1 <= c) {
        start++;
        continue;
      }
      let end = start;
      let width = 0;
      while (end < lines.length && lines[end]!.length - 1 > c) {
        width = Math.max(width, displayWidth(lines[end]![c]!) + padding);
        end++;
      }
      width = Math.max(width, minWidth);
      for (let l = start; l < end; l++) widths[l]![c] = width;
      start = end;
    }
  }
  const out = lines.map((cells, l) =>
    cells.map((cell, c) => (c < cells.length - 1 ? cell + ' '.repeat(widths[l]![c]! - displayWidth(cell)) : cell)).join(''),
  );
  return out.join('\n') + (trailingNewline ? '\n' : '');
}

function displayWidth(s: string): number {
  return [...s].length;
}
