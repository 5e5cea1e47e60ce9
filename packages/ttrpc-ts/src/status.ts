/** gRPC status codes as carried in google.rpc.Status.code, and the error type that carries them. */

export enum Code {
  OK = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

/** google.protobuf.Any as found in Status.details. */
export interface AnyMessage {
  typeUrl: string;
  value: Uint8Array;
}

/** google.rpc.Status. */
export interface Status {
  code: number;
  message: string;
  details: AnyMessage[];
}

/** The name of a code as gRPC spells it in Go (`NotFound`), or `Code(<n>)` for numbers outside the enum. */
function codeName(code: number): string {
  const name = (Code as unknown as Record<number, string | undefined>)[code];
  return name ?? `Code(${code})`;
}

/** An RPC failure with a status code; what handlers throw and what the client rejects with. */
export class TtrpcError extends Error {
  override readonly name = 'TtrpcError';
  readonly code: Code;
  readonly details: readonly AnyMessage[];

  constructor(code: Code, message: string, details: readonly AnyMessage[] = []) {
    super(message);
    this.code = code;
    this.details = details;
  }

  /** The wire status for this error. */
  toStatus(): Status {
    return { code: this.code, message: this.message, details: [...this.details] };
  }

  override toString(): string {
    return `TtrpcError: ${codeName(this.code)}: ${this.message}`;
  }
}

/** A TtrpcError from a decoded wire status. */
export function errorFromStatus(status: Status): TtrpcError {
  return new TtrpcError(status.code as Code, status.message, status.details);
}

/**
 * The status a server answers for anything a handler threw: a TtrpcError keeps its code,
 * anything else is Unknown with its message (as Go's ttrpc does for plain errors).
 */
export function statusFromThrown(thrown: unknown): Status {
  if (thrown instanceof TtrpcError) return thrown.toStatus();
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return { code: Code.Unknown, message, details: [] };
}
