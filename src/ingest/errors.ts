/**
 * Errors about the input, as opposed to bugs in avpscope. They always name the file and, where
 * there is one, the line, and the CLI prints them as `file:line: message` with exit code 2.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** `file:line: message`, the way compilers print it. */
  describe(): string {
    const where = this.file === undefined ? '' : this.line === undefined ? `${this.file}: ` : `${this.file}:${this.line}: `;
    return where + this.message;
  }
}
