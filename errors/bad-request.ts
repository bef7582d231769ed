import { StratusError } from './stratus-error';

export class BadRequestError extends StratusError {
  override readonly name = 'BadRequestError';
  readonly code = 'BAD_REQUEST';
  readonly status = 400;
  readonly reason = 'BadRequest';
}
