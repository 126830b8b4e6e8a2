/**
 * Reads a tar archive (what the archive API answers) in the browser. Hand-written because the
 * npm tar readers are built on Node streams; this needs only the ustar header, GNU long names
 * and PAX `path`/`size` records, for listing a directory and taking one file out.
 */
export interface TarEntry { name: string; type: 'file' | 'dir' | 'symlink' | 'other'; size: number; mtime: number; linkname: string; data: Uint8Array }

const dec = new TextDecoder();
function str(b: Uint8Array, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return dec.decode(z >= 0 ? s.subarray(0, z) : s);
}
function num(b: Uint8Array, off: number, len: number): number {
  if (b[off]! & 0x80) {
    // base-256 (GNU) for sizes over 8 GiB
    let v = 0;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i]!;
    return v;
  }
  return parseInt(str(b, off, len).trim() || '0', 8);
}

export function readTar(buf: Uint8Array): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  let pax: Record<string, string> = {};
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const flag = String.fromCharCode(h[156]!);
    let size = num(h, 124, 12);
    if (pax['size']) size = Number(pax['size']);
    const data = buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (flag === 'L') { longName = str(data, 0, data.length); continue; }
    if (flag === 'x') {
      pax = {};
      const text = dec.decode(data);
      let i = 0;
      while (i < text.length) {
        const sp = text.indexOf(' ', i);
        const len = Number(text.slice(i, sp));
        if (!len) break;
        const rec = text.slice(sp + 1, i + len - 1);
        const eq = rec.indexOf('=');
        pax[rec.slice(0, eq)] = rec.slice(eq + 1);
        i += len;
      }
      continue;
    }
    if (flag === 'g') continue;
    const prefix = str(h, 345, 155);
    const name = pax['path'] ?? longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
    const type = flag === '5' ? 'dir' : flag === '0' || flag === '\0' || flag === '7' ? 'file' : flag === '2' ? 'symlink' : 'other';
    out.push({ name: name.replace(/\/$/, ''), type, size, mtime: num(h, 136, 12), linkname: pax['linkpath'] ?? str(h, 157, 100), data });
    longName = undefined;
    pax = {};
  }
  return out;
}
