// Typed errors of the shim and the ONE place that maps errors to ttrpc status codes.
// containerd turns the codes back into its errdefs classes (docs/protocol.md §9), so the
// code is part of the contract: NotFound for a gone process, FailedPrecondition for a
// state that does not allow the request, and so on.
import { AnyJsonError, AnyTypeError, DecodeError } from '../api/index.js';
import { Code, TtrpcError } from 'ttrpc-ts';

export class ShimError extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ShimError';
  }
}

export const notFound = (message: string) => new ShimError(Code.NotFound, message);
export const alreadyExists = (message: string) => new ShimError(Code.AlreadyExists, message);
export const failedPrecondition = (message: string) => new ShimError(Code.FailedPrecondition, message);
export const invalidArgument = (message: string) => new ShimError(Code.InvalidArgument, message);

/** Errors of bytes or JSON the client sent that do not decode: the client's fault. */
function isMalformedInput(err: Error): boolean {
  return err instanceof DecodeError || err instanceof AnyTypeError || err instanceof AnyJsonError;
}

/** Any thrown value as the TtrpcError the server should answer with. */
export function toTtrpcError(err: unknown): TtrpcError {
  if (err instanceof TtrpcError) return err;
  if (err instanceof ShimError) return new TtrpcError(err.code, err.message);
  if (err instanceof Error) {
    if (err.name === 'AbortError') return new TtrpcError(Code.Canceled, err.message);
    if (isMalformedInput(err)) return new TtrpcError(Code.InvalidArgument, err.message);
    return new TtrpcError(Code.Unknown, err.message);
  }
  return new TtrpcError(Code.Unknown, String(err));
}
