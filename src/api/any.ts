// google.protobuf.Any with containerd's type URLs.
//
// containerd writes protobuf types as their bare full name ("containerd.events.TaskExit"),
// without the "type.googleapis.com/" prefix; JSON-encoded Go types use registered URLs such
// as "types.containerd.io/opencontainers/runtime-spec/1/Process". We write bare names and,
// like Go's anypb, accept any prefix ending in '/' before the full name when reading.
import type { google } from './gen/proto.js';
import { decodeNamed, encodeNamed, type NamedMessage } from './codec.js';

export type AnyMessage = google.protobuf.IAny;

/** Type URLs of the JSON payloads containerd sends (value = JSON text). */
export const JsonTypeUrl = {
  /** ExecProcessRequest.spec: the OCI process of an exec. */
  OciProcess: 'types.containerd.io/opencontainers/runtime-spec/1/Process',
  /** UpdateTaskRequest.resources. */
  OciLinuxResources: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources',
  /** RuntimeInfo.features. */
  OciFeatures: 'types.containerd.io/opencontainers/runtime-spec/1/features/Features',
} as const;

/** An Any whose type URL is not the one the caller expected (the server answers InvalidArgument). */
export class AnyTypeError extends Error {
  override readonly name = 'AnyTypeError';
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`unexpected Any type ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
  }
}

/** An Any whose value is not valid JSON text (the server answers InvalidArgument). */
export class AnyJsonError extends Error {
  override readonly name = 'AnyJsonError';
  constructor(
    readonly typeUrl: string,
    cause: Error,
  ) {
    super(`invalid JSON in Any ${JSON.stringify(typeUrl)}: ${cause.message}`, { cause });
  }
}

/** The full type name an Any's URL designates: the text after the last '/'. */
function anyTypeName(any: AnyMessage): string {
  const url = any.type_url ?? '';
  return url.slice(url.lastIndexOf('/') + 1);
}

/** True when `any` carries a message of `type` (bare name or any prefixed form). */
export function isAnyOf(any: AnyMessage | null | undefined, type: { readonly typeName: string }): boolean {
  return !!any && anyTypeName(any) === type.typeName;
}

export function packAny<I, M extends I>(type: NamedMessage<I, M>, message: I): AnyMessage {
  return { type_url: type.typeName, value: encodeNamed(type, message) };
}

/** Decodes the message inside `any`; throws AnyTypeError if it holds another type. */
export function unpackAny<I, M extends I>(type: NamedMessage<I, M>, any: AnyMessage): M {
  if (!isAnyOf(any, type)) throw new AnyTypeError(type.typeName, any.type_url ?? '');
  return decodeNamed(type, any.value ?? new Uint8Array(0));
}

export function packJsonAny(typeUrl: string, value: unknown): AnyMessage {
  return { type_url: typeUrl, value: Buffer.from(JSON.stringify(value), 'utf8') };
}

/**
 * Parses the JSON inside `any`. The result is unvalidated JSON: the caller narrows it.
 * `typeUrl`, when given, must match exactly (these URLs are not protobuf names).
 */
export function unpackJsonAny(any: AnyMessage, typeUrl?: string): unknown {
  const actual = any.type_url ?? '';
  if (typeUrl !== undefined && actual !== typeUrl) throw new AnyTypeError(typeUrl, actual);
  const bytes = any.value ?? new Uint8Array(0);
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw new AnyJsonError(actual, err as Error);
  }
}
