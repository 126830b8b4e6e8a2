import { InvalidParameterError } from '../common/errors.js';
import type { Platform } from './image.js';

// Node's process.arch names → Go's GOARCH names, which images and registries use.
const GO_ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  mips: 'mips',
  mipsel: 'mipsle',
  loong64: 'loong64',
};

/** The Go architecture name for a Node `process.arch` value. */
export function goArch(nodeArch: string = process.arch): string {
  return GO_ARCH[nodeArch] ?? nodeArch;
}

/** The platform of this host, as an image would declare it. */
export function hostPlatform(): Platform {
  const p: Platform = { os: 'linux', architecture: goArch() };
  if (p.architecture === 'arm64') p.variant = 'v8';
  return p;
}

/** Parses Docker's `os[/arch[/variant]]` platform string (`linux/amd64`, `linux/arm/v7`). */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) {
    throw new InvalidParameterError(`invalid platform: ${JSON.stringify(s)}: expected os[/arch[/variant]]`);
  }
  const [os, arch, variant] = parts as [string, string?, string?];
  const host = hostPlatform();
  const architecture = normaliseArch(arch ?? host.architecture);
  const p: Platform = { os, architecture };
  if (variant) p.variant = variant;
  else if (!arch && host.variant) p.variant = host.variant;
  return p;
}

function normaliseArch(a: string): string {
  switch (a) {
    case 'x86_64':
    case 'x86-64':
      return 'amd64';
    case 'aarch64':
      return 'arm64';
    case 'i386':
      return '386';
    default:
      return a;
  }
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}
