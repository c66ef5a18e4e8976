// A render failure that names the field at fault; the operator turns it into a status condition.
export class RenderError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
    this.name = 'RenderError';
  }
}
