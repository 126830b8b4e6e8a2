import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VERBS } from '../compose.js';
import { ComposeFailure, EXIT_NO_PROJECT } from '../../../compose/errors.js';
import { ComposeLoadError, loadProject } from '../../../compose/loader.js';
import { ComposeError } from '../../../compose/runner.js';
import { InterpolationError } from '../../../compose/interpolate.js';
import { ComposeValidationError } from '../../../compose/validate.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('every compose verb loads from its own module and says what the table says', async () => {
  assert.ok(Object.keys(VERBS).length >= 23);
  for (const [name, entry] of Object.entries(VERBS)) {
    const verb = await entry.load();
    assert.equal(verb.description, entry.description, name);
    assert.equal(typeof verb.runCompose, 'function', name);
  }
});

test('compose errors carry their exit code (14 when there is no project, else 1)', () => {
  for (const e of [new ComposeError('x'), new InterpolationError('x'), new ComposeValidationError('x'), new ComposeLoadError('x')]) {
    assert.ok(e instanceof ComposeFailure, e.name);
    assert.equal(e.exitCode, 1, e.name);
  }
  const dir = mkdtempSync(join(tmpdir(), 'berth-compose-exit-'));
  try {
    assert.throws(() => loadProject({ env: {}, cwd: dir }), (e: unknown) => e instanceof ComposeLoadError && e.exitCode === EXIT_NO_PROJECT && /^no configuration file/.test(e.message));
    assert.throws(() => loadProject({ env: {}, cwd: dir, projectName: 'Bad Name' }), (e: unknown) => e instanceof ComposeLoadError && e.exitCode === EXIT_NO_PROJECT);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
