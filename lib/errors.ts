/** An error caused by bad input (a flag, a file, a config value): the CLI prints it as one line, exit code 2. */
export class UserError extends Error {
  override name = 'UserError';
}
