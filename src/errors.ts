/**
 * Errors that reach the user. `where` names the file, field or tensor at fault, so the CLI can print one line.
 */
export class InputError extends Error {
  readonly where: string;
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = 'InputError';
    this.where = where;
  }
}

/** A checkpoint whose tensors do not match the model: names the missing, unexpected or mis-shaped tensor. */
export class CheckpointError extends InputError {
  constructor(where: string, message: string) {
    super(where, message);
    this.name = 'CheckpointError';
  }
}
