import type { TagContext } from './tag-template.js';

/** One record on its way to a remote log driver. */
export interface LogMessage {
  /** The line without its trailing newline. */
  line: Buffer;
  stream: 'stdout' | 'stderr';
  time: Date;
  /** The line was cut (no newline yet): Docker's partial message. */
  partial: boolean;
}

/** A remote log driver's connection, opened before the container starts. */
export interface LogSink {
  send(m: LogMessage): Promise<void>;
  close(): Promise<void>;
}

/** What a driver may put into the messages about their container. */
export interface SinkContext extends TagContext {
  labels: Record<string, string>;
  env: string[];
  hostname: string;
}

/**
 * Docker's "extra attributes": the container labels named by `labels` (comma-separated) or
 * matching `labels-regex`, and the environment variables named by `env` or matching `env-regex`.
 */
export function extraAttributes(config: Record<string, string>, ctx: SinkContext): Record<string, string> {
  const out: Record<string, string> = {};
  const names = (v: string | undefined) => new Set((v ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const labels = names(config['labels']);
  const labelsRe = config['labels-regex'] ? new RegExp(config['labels-regex']) : undefined;
  for (const [k, v] of Object.entries(ctx.labels)) if (labels.has(k) || labelsRe?.test(k)) out[k] = v;
  const env = names(config['env']);
  const envRe = config['env-regex'] ? new RegExp(config['env-regex']) : undefined;
  for (const e of ctx.env) {
    const i = e.indexOf('=');
    if (i <= 0) continue;
    const k = e.slice(0, i);
    if (env.has(k) || envRe?.test(k)) out[k] = e.slice(i + 1);
  }
  return out;
}
