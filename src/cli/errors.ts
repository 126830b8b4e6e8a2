/**
 * A command's failure with the exit code the docker CLI would use: 125 for errors of berth
 * itself or the daemon before the container ran, 126/127 when the command cannot be invoked
 * or found, 1 for ordinary command errors. `message` is printed to stderr as is ('' prints
 * nothing).
 */
export class StatusError extends Error {
  readonly code = 'BERTH_ERR_STATUS';
  readonly status: number;
  constructor(status: number, message = '') {
    super(message);
    this.name = 'StatusError';
    this.status = status;
  }
}
