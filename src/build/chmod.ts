/**
 * `COPY --chmod`: an octal mode (`755`, `0640`) or a symbolic one as chmod(1) takes it
 * (`u=rwx,go=rx`, `a+X`, `g-w`), applied to each copied file. Pure.
 */

/** A parsed --chmod value: applies to one file's current mode. */
export type ChmodFn = (mode: number, isDir: boolean) => number;

const CLAUSE = /^([ugoa]*)([-+=])([rwxXst]*|[ugo])$/;

/** Parses a --chmod value; undefined when it is neither octal nor symbolic. */
export function parseChmod(spec: string): ChmodFn | undefined {
  if (/^[0-7]{1,4}$/.test(spec)) {
    const m = parseInt(spec, 8);
    return () => m;
  }
  if (!spec) return undefined;
  const clauses: { who: number; op: string; perm: string }[] = [];
  for (const part of spec.split(',')) {
    // Several operations may follow one `who` (`u+r-w`): split them.
    const m = /^([ugoa]*)((?:[-+=][rwxXst]*)+)$/.exec(part);
    if (!m) return undefined;
    for (const op of m[2]!.match(/[-+=][rwxXst]*/g)!) {
      if (!CLAUSE.test(m[1] + op)) return undefined;
      clauses.push({ who: whoMask(m[1]!), op: op[0]!, perm: op.slice(1) });
    }
  }
  return (mode, isDir) => {
    let cur = mode & 0o7777;
    for (const c of clauses) {
      const exec = c.perm.includes('x') || (c.perm.includes('X') && (isDir || (cur & 0o111) !== 0));
      let bits = 0;
      if (c.perm.includes('r')) bits |= 0o444;
      if (c.perm.includes('w')) bits |= 0o222;
      if (exec) bits |= 0o111;
      if (c.perm.includes('s')) bits |= 0o6000;
      if (c.perm.includes('t')) bits |= 0o1000;
      // Without `who`, `a` is meant (umask is not applied: the result must not depend on the host).
      const who = c.who || 0o7777;
      let mask = who & 0o777;
      if (who & 0o700) mask |= 0o4000;
      if (who & 0o070) mask |= 0o2000;
      if (who & 0o007) mask |= 0o1000; // `t` with `o`, `a` or no `who`
      bits &= mask;
      if (c.op === '+') cur |= bits;
      else if (c.op === '-') cur &= ~bits;
      else cur = (cur & ~(who & 0o777)) | bits;
    }
    return cur;
  };
}

function whoMask(who: string): number {
  if (!who || who.includes('a')) return who ? 0o7777 : 0;
  let m = 0;
  if (who.includes('u')) m |= 0o700;
  if (who.includes('g')) m |= 0o070;
  if (who.includes('o')) m |= 0o007;
  return m;
}
