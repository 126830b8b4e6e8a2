/**
 * `berth context create|ls|use|inspect|rm|export|import|show`: docker's contexts, stored in
 * docker's own layout (client/context-store.ts) so the docker CLI and berth share them.
 * Output and messages follow docker/cli `cli/command/context/*`: names on stdout, "Successfully
 * …" on stderr.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { CommandModule } from '../command.js';
import type { Invocation } from '../invocation.js';
import { StatusError } from '../errors.js';
import { runSubcommand } from './tls.js';
import {
  ContextStore,
  DEFAULT_CONTEXT,
  DEFAULT_CONTEXT_DESCRIPTION,
  dockerConfigDir,
  readTlsFile,
  validateContextName,
  type ContextMetadata,
  type EndpointTlsData,
} from '../../client/context-store.js';
import { defaultHost as defaultSocket, parseHost } from '../../client/transport.js';

function storeOf(ctx: Invocation): ContextStore {
  return new ContextStore(ctx.configDir ?? dockerConfigDir(undefined, ctx.env));
}

/** The context this invocation uses (`--context`, env, config.json, else default). */
function current(ctx: Invocation): string {
  return ctx.contextName || DEFAULT_CONTEXT;
}

/** The default context's endpoint: -H when the default context is in use, else the environment. */
function defaultHost(ctx: Invocation): string {
  if (current(ctx) === DEFAULT_CONTEXT && ctx.host) return ctx.host;
  return ctx.env.BERTH_HOST || ctx.env.DOCKER_HOST || defaultSocket(ctx.env);
}

function defaultMeta(ctx: Invocation): ContextMetadata {
  return { Name: DEFAULT_CONTEXT, Metadata: { Description: DEFAULT_CONTEXT_DESCRIPTION }, Endpoints: { docker: { Host: defaultHost(ctx), SkipTLSVerify: false } } };
}

/** Parses `--docker "host=tcp://…,ca=…,cert=…,key=…,skip-tls-verify=true"` as docker does. */
function parseDockerEndpoint(spec: string): { host?: string; skipTlsVerify: boolean; tls: EndpointTlsData; from?: string } {
  const out: { host?: string; skipTlsVerify: boolean; tls: EndpointTlsData; from?: string } = { skipTlsVerify: false, tls: {} };
  if (!spec) return out;
  for (const field of spec.split(',')) {
    const i = field.indexOf('=');
    if (i < 0) throw new StatusError(1, `unable to create docker endpoint config: invalid field "${field}": expected KEY=VALUE`);
    const [k, v] = [field.slice(0, i).trim(), field.slice(i + 1).trim()];
    switch (k) {
      case 'host':
        out.host = v;
        break;
      case 'ca':
        out.tls.ca = readTlsFile(v);
        break;
      case 'cert':
        out.tls.cert = readTlsFile(v);
        break;
      case 'key':
        out.tls.key = readTlsFile(v);
        break;
      case 'skip-tls-verify':
        if (!/^(true|false|1|0)$/i.test(v)) throw new StatusError(1, `unable to create docker endpoint config: invalid value "${v}" for skip-tls-verify`);
        out.skipTlsVerify = /^(true|1)$/i.test(v);
        break;
      case 'from':
        out.from = v;
        break;
      default:
        throw new StatusError(1, `unable to create docker endpoint config: unrecognized config key: ${k}`);
    }
  }
  if (!!out.tls.cert !== !!out.tls.key) throw new StatusError(1, 'unable to create docker endpoint config: cert and key must be given together');
  return out;
}

const create: CommandModule = {
  usage: '[OPTIONS] CONTEXT',
  description: 'Create a context',
  args: { exact: 1 },
  configure(cmd) {
    cmd
      .option('--description <string>', 'Description of the context')
      .option('--docker <stringToString>', 'set the docker endpoint', (v: string, prev: string[] | undefined) => [...(prev ?? []), v], [])
      .option('--from <string>', 'create context from a named context');
  },
  async run(ctx, args, opts) {
    const o = opts as { description?: string; docker: string[]; from?: string };
    const name = args[0]!;
    validateContextName(name);
    const store = storeOf(ctx);
    if (await store.exists(name)) throw new StatusError(1, `context "${name}" already exists`);
    let meta: ContextMetadata;
    let tls: EndpointTlsData = {};
    const spec = o.docker.join(',');
    const ep = parseDockerEndpoint(spec);
    const from = ep.from ?? (o.docker.length ? undefined : o.from ?? current(ctx));
    if (from !== undefined) {
      // Copy another context's docker endpoint (and TLS files); `default` copies its host.
      const src = from === DEFAULT_CONTEXT ? defaultMeta(ctx) : await store.get(from);
      if (from !== DEFAULT_CONTEXT) tls = await store.tlsData(from);
      meta = { ...src, Name: name, Metadata: { ...src.Metadata, Description: o.description ?? '' } };
      if (!o.description) delete meta.Metadata.Description;
    } else {
      if (!ep.host) throw new StatusError(1, 'unable to create docker endpoint config: host is required (--docker "host=unix:///path" or "host=tcp://ADDR:PORT")');
      try {
        parseHost(ep.host);
      } catch (e) {
        throw new StatusError(1, `unable to create docker endpoint config: ${(e as Error).message}`);
      }
      meta = { Name: name, Metadata: o.description ? { Description: o.description } : {}, Endpoints: { docker: { Host: ep.host, SkipTLSVerify: ep.skipTlsVerify } } };
      tls = ep.tls;
    }
    await store.write(meta, tls);
    ctx.stdout.write(`${name}\n`);
    ctx.stderr.write(`Successfully created context "${name}"\n`);
    return 0;
  },
};

/** `context update`: a new description and/or docker endpoint for an existing context. */
const update: CommandModule = {
  usage: '[OPTIONS] CONTEXT',
  description: 'Update a context',
  args: { exact: 1 },
  configure(cmd) {
    cmd
      .option('--description <string>', 'Description of the context')
      .option('--docker <stringToString>', 'set the docker endpoint', (v: string, prev: string[] | undefined) => [...(prev ?? []), v], []);
  },
  async run(ctx, args, opts) {
    const o = opts as { description?: string; docker: string[] };
    const name = args[0]!;
    if (name === DEFAULT_CONTEXT) throw new StatusError(1, `context "${DEFAULT_CONTEXT}" cannot be updated`);
    const store = storeOf(ctx);
    const meta = await store.get(name);
    let tls = await store.tlsData(name);
    if (o.description !== undefined) meta.Metadata = { ...meta.Metadata, Description: o.description };
    if (o.docker.length) {
      const ep = parseDockerEndpoint(o.docker.join(','));
      if (ep.from !== undefined) throw new StatusError(1, 'unable to update docker endpoint config: "from" is not supported by context update');
      const host = ep.host ?? meta.Endpoints.docker?.Host;
      if (!host) throw new StatusError(1, 'unable to update docker endpoint config: host is required');
      try {
        parseHost(host);
      } catch (e) {
        throw new StatusError(1, `unable to update docker endpoint config: ${(e as Error).message}`);
      }
      meta.Endpoints = { ...meta.Endpoints, docker: { Host: host, SkipTLSVerify: ep.skipTlsVerify } };
      if (Object.keys(ep.tls).length) tls = ep.tls;
    }
    await store.write(meta, tls);
    ctx.stdout.write(`${name}\n`);
    ctx.stderr.write(`Successfully updated context "${name}"\n`);
    return 0;
  },
};

const ls: CommandModule = {
  usage: '[OPTIONS]',
  description: 'List contexts',
  aliases: ['berth context list'],
  args: { max: 0 },
  configure(cmd) {
    cmd.option('--format <string>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or 'TEMPLATE'").option('-q, --quiet', 'Only show context names');
  },
  async run(ctx, _args, opts) {
    const o = opts as { format?: string; quiet?: boolean };
    const cur = current(ctx);
    const all = [defaultMeta(ctx), ...(await storeOf(ctx).list())].sort((a, b) => a.Name.localeCompare(b.Name));
    if (o.quiet) {
      for (const m of all) ctx.stdout.write(`${m.Name}\n`);
      return 0;
    }
    const rows = all.map((m) => ({
      Name: m.Name,
      Current: m.Name === cur,
      Description: m.Metadata.Description ?? '',
      DockerEndpoint: m.Endpoints.docker?.Host ?? '',
      Error: m.Endpoints.docker ? '' : 'cannot find docker endpoint in context',
    }));
    const { renderList } = await import('../format/formatter.js');
    ctx.stdout.write(
      renderList(
        {
          format: o.format === 'json' ? '{{json .}}' : o.format ?? '',
          defaultTable: 'table {{.Name}}{{if .Current}} *{{end}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}',
          headers: { Name: 'NAME', Current: 'CURRENT', Description: 'DESCRIPTION', DockerEndpoint: 'DOCKER ENDPOINT', Error: 'ERROR' },
        },
        rows,
      ),
    );
    return 0;
  },
};

const use: CommandModule = {
  usage: 'CONTEXT',
  description: 'Set the current docker context',
  args: { exact: 1 },
  configure() {},
  async run(ctx, args) {
    const name = args[0]!;
    const store = storeOf(ctx);
    if (name !== DEFAULT_CONTEXT) {
      validateContextName(name);
      await store.get(name);
    }
    await store.setCurrentContext(name);
    ctx.stdout.write(`${name}\n`);
    ctx.stderr.write(`Current context is now "${name}"\n`);
    const envHost = ctx.env.BERTH_HOST ? 'BERTH_HOST' : ctx.env.DOCKER_HOST ? 'DOCKER_HOST' : undefined;
    if (name !== DEFAULT_CONTEXT && envHost) {
      ctx.stderr.write(`Warning: ${envHost} environment variable overrides the active context. To use "${name}", either set the global --context flag, or unset ${envHost} environment variable.\n`);
    }
    return 0;
  },
};

const inspect: CommandModule = {
  usage: '[OPTIONS] [CONTEXT] [CONTEXT...]',
  description: 'Display detailed information on one or more contexts',
  configure(cmd) {
    cmd.option('-f, --format <string>', "Format output using a custom template: 'json' or 'TEMPLATE'");
  },
  async run(ctx, args, opts) {
    const o = opts as { format?: string };
    const store = storeOf(ctx);
    const names = args.length ? args : [current(ctx)];
    const out: object[] = [];
    for (const name of names) {
      if (name === DEFAULT_CONTEXT) {
        out.push({ ...defaultMeta(ctx), TLSMaterial: {}, Storage: { MetadataPath: '<IN MEMORY>', TLSPath: '<IN MEMORY>' } });
        continue;
      }
      const meta = await store.get(name);
      out.push({ ...meta, TLSMaterial: await store.tlsFiles(name), Storage: store.storageInfo(name) });
    }
    if (o.format && o.format !== 'json') {
      const { parseTemplate } = await import('../format/template.js');
      const t = parseTemplate(o.format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
      for (const item of out) ctx.stdout.write(`${t.execute(item)}\n`);
    } else {
      ctx.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
    }
    return 0;
  },
};

const rm: CommandModule = {
  usage: 'CONTEXT [CONTEXT...]',
  description: 'Remove one or more contexts',
  aliases: ['berth context remove'],
  args: { min: 1 },
  configure(cmd) {
    cmd.option('-f, --force', 'Force the removal of a context in use');
  },
  async run(ctx, args, opts) {
    const force = !!(opts as { force?: boolean }).force;
    const store = storeOf(ctx);
    const configured = await store.currentContext();
    const errors: string[] = [];
    for (const name of args) {
      try {
        if (name === DEFAULT_CONTEXT) throw new Error('context "default" cannot be removed');
        if (name === current(ctx) || name === configured) {
          if (!force) throw new Error(`context "${name}" is in use, set -f flag to force remove`);
          if (name === configured) await store.setCurrentContext('');
        }
        if (!force && !(await store.exists(name))) throw new Error(`context "${name}" does not exist`);
        await store.remove(name);
        ctx.stdout.write(`${name}\n`);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length) throw new StatusError(1, errors.join('\n'));
    return 0;
  },
};

const exportCmd: CommandModule = {
  usage: 'CONTEXT [FILE|-]',
  description: 'Export a context to a tar archive FILE or a tar stream on STDOUT.',
  args: { min: 1, max: 2 },
  configure() {},
  async run(ctx, args) {
    const [name, file = `${args[0]}.dockercontext`] = args as [string, string?];
    if (name === DEFAULT_CONTEXT) throw new StatusError(1, 'the default context cannot be exported; create a named context from it with "context create --from default"');
    const data = await storeOf(ctx).export(name);
    if (file === '-') {
      ctx.stdout.write(data);
    } else {
      await writeFile(file, data, { mode: 0o600 });
      ctx.stderr.write(`Written file "${file}"\n`);
    }
    return 0;
  },
};

const importCmd: CommandModule = {
  usage: 'CONTEXT FILE|-',
  description: 'Import a context from a tar or zip file',
  args: { exact: 2 },
  configure() {},
  async run(ctx, args) {
    const [name, file] = args as [string, string];
    validateContextName(name);
    let data: Buffer;
    if (file === '-') {
      const chunks: Buffer[] = [];
      for await (const c of ctx.stdin) chunks.push(Buffer.from(c as Buffer));
      data = Buffer.concat(chunks);
    } else {
      data = await readFile(file).catch((e: Error) => {
        throw new StatusError(1, `open ${file}: ${e.message}`);
      });
    }
    await storeOf(ctx).import(name, data);
    ctx.stdout.write(`${name}\n`);
    ctx.stderr.write(`Successfully imported context "${name}"\n`);
    return 0;
  },
};

const show: CommandModule = {
  usage: '',
  description: 'Print the name of the current context',
  args: { max: 0 },
  configure() {},
  async run(ctx) {
    ctx.stdout.write(`${current(ctx)}\n`);
    return 0;
  },
};

const SUBCOMMANDS: Record<string, CommandModule> = { create, export: exportCmd, import: importCmd, inspect, ls, rm, show, update, use };

/** `berth context COMMAND`. */
export const command: CommandModule = {
  usage: 'COMMAND',
  description:
    'Manage contexts\n\nCommands:\n' +
    Object.entries(SUBCOMMANDS)
      .map(([k, m]) => `  ${k.padEnd(9)}${m.description}`)
      .join('\n'),
  positionalStop: true,
  configure() {},
  async run(ctx, args) {
    return runSubcommand(ctx, 'context', SUBCOMMANDS, args);
  },
};
