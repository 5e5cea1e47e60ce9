// What containerd writes to `start`'s stdin, told apart by structure (docs/protocol.md §3.1, §15):
//   - nothing: no runtime options (1.6-2.2);
//   - a google.protobuf.Any of the runtime options (1.6-2.2): fields 1 (type URL) and 2 (value) only;
//   - a containerd.runtime.bootstrap.v1.BootstrapParams (2.3+): the task id, namespace, log level,
//     containerd's version and addresses, an optional socket directory, and the runtime options
//     as one of its extensions.
// containerd 2.3 always sets containerd_version, the addresses and the binary (fields 4-7), which an
// Any never has. The one overlap, a BootstrapParams holding only fields 1 and 2, is recognised by
// its content: field 1 is this task's id and field 2 this namespace, where an Any has a type URL
// and a serialized message. Anything else is an error that says what arrived.
import { WireError, WireType, int32, readFields, utf8, type WireField } from './proto-wire.js';

/** A google.protobuf.Any as read from stdin (decoded further by the shim that knows its type). */
export interface StartAny {
  typeUrl: string;
  value: Uint8Array;
}

/** BootstrapParams' fields (proto3: an unset string is ''). */
export interface BootstrapParams {
  instanceId: string;
  namespace: string;
  /** containerd's level: 0 info, negative more verbose, positive more severe (an open enum). */
  logLevel: number;
  containerdVersion: string;
  containerdTtrpcAddress: string;
  containerdGrpcAddress: string;
  containerdBinary: string;
  extensions: StartAny[];
  /** Absent (or set to '') means the default socket directory. */
  socketDir: string | undefined;
}

export type StartInput =
  | { form: 'empty'; options: undefined }
  | { form: 'any'; options: StartAny }
  /** `options`: the first extension whose type is one the shim reads as runtime options. */
  | { form: 'bootstrap'; options: StartAny | undefined; params: BootstrapParams };

/** Stdin that is none of the three forms. */
export class StartInputError extends Error {
  override readonly name = 'StartInputError';
}

export interface StartInputContext {
  /** -id and -namespace: what a BootstrapParams must carry. */
  id: string;
  namespace: string;
  /** Full protobuf names of the shim's runtime options (e.g. containerd.runc.v1.Options). */
  optionTypes: readonly string[];
}

/** The full type name a type URL designates: the text after its last '/' (as Go's anypb reads it). */
function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

function describe(stdin: Uint8Array): string {
  const head = Buffer.from(stdin.subarray(0, 24)).toString('hex');
  return `${stdin.length} bytes starting ${head}${stdin.length > 24 ? '...' : ''}`;
}

function readAny(fields: readonly WireField[], what: string): StartAny {
  const any: StartAny = { typeUrl: '', value: new Uint8Array(0) };
  for (const f of fields) {
    // Go reads a known field number with another wire type as an unknown field; so do we.
    if (f.wireType !== WireType.bytes) continue;
    if (f.field === 1) any.typeUrl = utf8(f.bytes!, `${what} type URL`);
    else if (f.field === 2) any.value = f.bytes!;
  }
  return any;
}

const stringFields = {
  1: 'instanceId',
  2: 'namespace',
  4: 'containerdVersion',
  5: 'containerdTtrpcAddress',
  6: 'containerdGrpcAddress',
  7: 'containerdBinary',
} as const;
const protoNames: Record<keyof typeof stringFields, string> = {
  1: 'instance_id',
  2: 'namespace',
  4: 'containerd_version',
  5: 'containerd_ttrpc_address',
  6: 'containerd_grpc_address',
  7: 'containerd_binary',
};
const isStringField = (field: number): field is keyof typeof stringFields => Object.hasOwn(stringFields, field);

function readBootstrapParams(fields: readonly WireField[]): BootstrapParams {
  const params: BootstrapParams = {
    instanceId: '',
    namespace: '',
    logLevel: 0,
    containerdVersion: '',
    containerdTtrpcAddress: '',
    containerdGrpcAddress: '',
    containerdBinary: '',
    extensions: [],
    socketDir: undefined,
  };
  for (const f of fields) {
    if (f.field === 3 && f.wireType === WireType.varint) {
      params.logLevel = int32(f.varint!);
    } else if (f.wireType !== WireType.bytes) {
      // An unknown field, or a known one with another wire type: skipped (as Go does).
    } else if (isStringField(f.field)) {
      params[stringFields[f.field]] = utf8(f.bytes!, `BootstrapParams.${protoNames[f.field]}`);
    } else if (f.field === 8) {
      // Extension { google.protobuf.Any value = 1; }
      let valueField: WireField | undefined;
      for (const inner of readFields(f.bytes!)) if (inner.field === 1 && inner.wireType === WireType.bytes) valueField = inner;
      if (valueField) params.extensions.push(readAny(readFields(valueField.bytes!), 'BootstrapParams extension'));
    } else if (f.field === 9) {
      params.socketDir = utf8(f.bytes!, 'BootstrapParams.socket_dir');
    }
  }
  if (params.socketDir === '') params.socketDir = undefined;
  return params;
}

/** True for a message with nothing but length-delimited fields 1 and 2: an Any's shape. */
function hasAnyShape(fields: readonly WireField[]): boolean {
  return fields.every((f) => (f.field === 1 || f.field === 2) && f.wireType === WireType.bytes);
}

/** Field 1 is this task's id and field 2 this namespace: a BootstrapParams with nothing else set. */
function isBareIdentity(fields: readonly WireField[], ctx: StartInputContext): boolean {
  // The last occurrence wins, as protobuf decoders read a repeated singular field.
  const text = (n: number): string | undefined => {
    let last: WireField | undefined;
    for (const f of fields) if (f.field === n) last = f;
    return last ? Buffer.from(last.bytes!).toString('utf8') : undefined;
  };
  return ctx.id !== '' && text(1) === ctx.id && text(2) === ctx.namespace;
}

/** Tells the three forms apart and decodes the one that arrived; throws StartInputError otherwise. */
export function decodeStartInput(stdin: Uint8Array, ctx: StartInputContext): StartInput {
  if (stdin.length === 0) return { form: 'empty', options: undefined };
  try {
    const fields = readFields(stdin);
    if (hasAnyShape(fields) && !isBareIdentity(fields, ctx)) {
      return { form: 'any', options: readAny(fields, 'the options Any') };
    }
    const params = readBootstrapParams(fields);
    if (!params.instanceId) {
      const numbers = [...new Set(fields.map((f) => f.field))].join(', ');
      throw new WireError(`a protobuf message with fields ${numbers} but no instance_id`);
    }
    if (params.instanceId !== ctx.id || params.namespace !== ctx.namespace) {
      throw new StartInputError(
        `start: BootstrapParams on stdin is for ${JSON.stringify(`${params.namespace}/${params.instanceId}`)}, ` +
          `but the flags say ${JSON.stringify(`${ctx.namespace}/${ctx.id}`)}`,
      );
    }
    const options = params.extensions.find((e) => ctx.optionTypes.includes(typeNameOf(e.typeUrl)));
    return { form: 'bootstrap', options, params };
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    throw new StartInputError(
      `start: stdin is neither runtime options (a google.protobuf.Any) nor containerd 2.3's ` +
        `BootstrapParams: ${err.message} (${describe(stdin)})`,
    );
  }
}

/** The daemon's log levels (pino's names). */
export type LogLevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** pino's level for containerd's: the nearest known level, ties to the more verbose one (panic is fatal). */
export function logLevelName(level: number): LogLevelName {
  const known = [
    [-8, 'trace'],
    [-4, 'debug'],
    [0, 'info'],
    [4, 'warn'],
    [8, 'error'],
    [10, 'fatal'],
    [12, 'fatal'],
  ] as const;
  let best: (typeof known)[number] = known[0];
  for (const k of known) if (Math.abs(level - k[0]) < Math.abs(level - best[0])) best = k;
  return best[1];
}
