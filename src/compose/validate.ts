import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import { COMPOSE_SPEC_SCHEMA } from './compose-spec-schema.js';
import { ComposeFailure } from './errors.js';

/**
 * Validation of one compose file (after interpolation) against the compose specification's
 * JSON schema, with ajv. Errors name the path (`services.web.ports.0`) and the problem in
 * Docker Compose's wording (`additional properties 'imagee' not allowed`).
 */

let validator: ValidateFunction | undefined;

function compile(): ValidateFunction {
  if (validator) return validator;
  // ajv is CommonJS: under NodeNext the default import is module.exports, whose `default` is the class.
  const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as typeof AjvModule.default;
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  // The schema names draft-07 by its https URI, which ajv does not know; it is draft-07 all the same.
  const { $schema: _meta, ...schema } = COMPOSE_SPEC_SCHEMA;
  void _meta;
  validator = ajv.compile(schema);
  return validator;
}

export class ComposeValidationError extends ComposeFailure {
  readonly code = 'BERTH_ERR_COMPOSE_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ComposeValidationError';
  }
}

function where(e: ErrorObject): string {
  return e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).join('.');
}

function describe(e: ErrorObject): string {
  const at = where(e);
  switch (e.keyword) {
    case 'additionalProperties': {
      const prop = (e.params as { additionalProperty: string }).additionalProperty;
      return at ? `${at} additional properties '${prop}' not allowed` : `additional properties '${prop}' not allowed`;
    }
    case 'type':
      return `${at || '(root)'} must be a ${(e.params as { type: string }).type}`;
    case 'required':
      return `${at || '(root)'} missing property '${(e.params as { missingProperty: string }).missingProperty}'`;
    case 'enum':
      return `${at} must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${at || '(root)'} ${e.message ?? 'is invalid'}`;
  }
}

/** Throws ComposeValidationError naming `file` and the first meaningful problem. */
export function validateComposeFile(tree: unknown, file: string): void {
  const validate = compile();
  if (validate(tree)) return;
  const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'if');
  // The most specific error: an unknown key first, then the deepest path.
  errors.sort((a, b) => {
    const ka = a.keyword === 'additionalProperties' ? 1 : 0;
    const kb = b.keyword === 'additionalProperties' ? 1 : 0;
    if (ka !== kb) return kb - ka;
    return b.instancePath.split('/').length - a.instancePath.split('/').length;
  });
  const first = errors[0] ?? validate.errors?.[0];
  throw new ComposeValidationError(`validating ${file}: ${first ? describe(first) : 'invalid compose file'}`);
}
