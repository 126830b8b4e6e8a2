import { InvalidParameterError } from '../common/errors.js';

/** A build that failed at a step; the message names the Dockerfile and line. */
export class BuildError extends InvalidParameterError {
  override readonly code = 'BERTH_ERR_BUILD';
  /** A failing RUN's exit code (Docker's errorDetail.code). */
  exitCode?: number;
}
