/**
 * The ttrpc envelope messages (package ttrpc, request.proto), encoded by hand with protobufjs' minimal
 * Reader/Writer. Defaults are omitted on the wire like Go's proto3 marshaller does, so a successful
 * Response with an empty payload is 0 bytes.
 */
import protobuf from 'protobufjs/minimal.js';
import type { AnyMessage, Status } from './status.js';

const { Reader, Writer } = protobuf;
type ProtoReader = protobuf.Reader;
type ProtoWriter = protobuf.Writer;

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;

export interface KeyValue {
  key: string;
  value: string;
}

export interface RequestMessage {
  service: string;
  method: string;
  payload: Uint8Array;
  /** Relative deadline in nanoseconds; 0 = none. */
  timeoutNano: number;
  metadata: KeyValue[];
}

export interface ResponseMessage {
  /** Absent on success. */
  status?: Status;
  payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);

// ---- encoding ----------------------------------------------------------------------------------

function writeString(writer: ProtoWriter, field: number, value: string): void {
  if (value.length > 0) writer.uint32((field << 3) | WIRE_LENGTH_DELIMITED).string(value);
}

function writeBytes(writer: ProtoWriter, field: number, value: Uint8Array): void {
  if (value.length > 0) writer.uint32((field << 3) | WIRE_LENGTH_DELIMITED).bytes(value);
}

function writeKeyValue(writer: ProtoWriter, kv: KeyValue): void {
  writeString(writer, 1, kv.key);
  writeString(writer, 2, kv.value);
}

function writeAny(writer: ProtoWriter, any: AnyMessage): void {
  writeString(writer, 1, any.typeUrl);
  writeBytes(writer, 2, any.value);
}

function writeStatus(writer: ProtoWriter, status: Status): void {
  if (status.code !== 0) writer.uint32((1 << 3) | WIRE_VARINT).int32(status.code);
  writeString(writer, 2, status.message);
  for (const detail of status.details) {
    writer.uint32((3 << 3) | WIRE_LENGTH_DELIMITED).fork();
    writeAny(writer, detail);
    writer.ldelim();
  }
}

export function encodeRequest(request: RequestMessage): Uint8Array {
  const writer = Writer.create();
  writeString(writer, 1, request.service);
  writeString(writer, 2, request.method);
  writeBytes(writer, 3, request.payload);
  if (request.timeoutNano !== 0) writer.uint32((4 << 3) | WIRE_VARINT).int64(request.timeoutNano);
  for (const kv of request.metadata) {
    writer.uint32((5 << 3) | WIRE_LENGTH_DELIMITED).fork();
    writeKeyValue(writer, kv);
    writer.ldelim();
  }
  return writer.finish();
}

export function encodeResponse(response: ResponseMessage): Uint8Array {
  const writer = Writer.create();
  if (response.status !== undefined) {
    writer.uint32((1 << 3) | WIRE_LENGTH_DELIMITED).fork();
    writeStatus(writer, response.status);
    writer.ldelim();
  }
  writeBytes(writer, 2, response.payload);
  return writer.finish();
}

// ---- decoding ----------------------------------------------------------------------------------
// A known field number with an unexpected wire type is skipped as an unknown field, as Go does.

/** Walks the fields of a message of `end` bytes, calling `onField` for each; it returns false to skip. */
function readFields(reader: ProtoReader, end: number, onField: (field: number, wireType: number) => boolean): void {
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 0) throw new Error('invalid field number 0');
    if (!onField(field, wireType)) reader.skipType(wireType);
  }
  if (reader.pos !== end) throw new Error('message overruns its length');
}

const utf8 = new TextDecoder();

/** protobufjs' BufferReader.string() silently truncates an overrunning string; bytes() checks bounds. */
function readString(reader: ProtoReader): string {
  return utf8.decode(reader.bytes());
}

function readInt64(reader: ProtoReader): number {
  const value: unknown = reader.int64();
  if (typeof value === 'number') return value;
  return (value as { toNumber(): number }).toNumber();
}

function readKeyValue(reader: ProtoReader, end: number): KeyValue {
  const kv: KeyValue = { key: '', value: '' };
  readFields(reader, end, (field, wireType) => {
    if (wireType !== WIRE_LENGTH_DELIMITED) return false;
    if (field === 1) kv.key = readString(reader);
    else if (field === 2) kv.value = readString(reader);
    else return false;
    return true;
  });
  return kv;
}

function readAny(reader: ProtoReader, end: number): AnyMessage {
  const any: AnyMessage = { typeUrl: '', value: EMPTY };
  readFields(reader, end, (field, wireType) => {
    if (wireType !== WIRE_LENGTH_DELIMITED) return false;
    if (field === 1) any.typeUrl = readString(reader);
    else if (field === 2) any.value = reader.bytes();
    else return false;
    return true;
  });
  return any;
}

function readStatus(reader: ProtoReader, end: number): Status {
  const status: Status = { code: 0, message: '', details: [] };
  readFields(reader, end, (field, wireType) => {
    if (field === 1 && wireType === WIRE_VARINT) status.code = reader.int32();
    else if (field === 2 && wireType === WIRE_LENGTH_DELIMITED) status.message = readString(reader);
    else if (field === 3 && wireType === WIRE_LENGTH_DELIMITED) status.details.push(readEmbedded(reader, readAny));
    else return false;
    return true;
  });
  return status;
}

/** Reads a length-delimited embedded message at the reader's position. */
function readEmbedded<T>(reader: ProtoReader, read: (reader: ProtoReader, end: number) => T): T {
  const length = reader.uint32();
  const end = reader.pos + length;
  if (end > reader.len) throw new Error('embedded message overruns its parent');
  return read(reader, end);
}

/** Decodes a Request; throws an Error on malformed input. */
export function decodeRequest(bytes: Uint8Array): RequestMessage {
  const reader = Reader.create(bytes);
  const request: RequestMessage = { service: '', method: '', payload: EMPTY, timeoutNano: 0, metadata: [] };
  readFields(reader, reader.len, (field, wireType) => {
    if (field === 4 && wireType === WIRE_VARINT) request.timeoutNano = readInt64(reader);
    else if (wireType !== WIRE_LENGTH_DELIMITED) return false;
    else if (field === 1) request.service = readString(reader);
    else if (field === 2) request.method = readString(reader);
    else if (field === 3) request.payload = reader.bytes();
    else if (field === 5) request.metadata.push(readEmbedded(reader, readKeyValue));
    else return false;
    return true;
  });
  return request;
}

/** Decodes a Response; throws an Error on malformed input. */
export function decodeResponse(bytes: Uint8Array): ResponseMessage {
  const reader = Reader.create(bytes);
  const response: ResponseMessage = { payload: EMPTY };
  readFields(reader, reader.len, (field, wireType) => {
    if (wireType !== WIRE_LENGTH_DELIMITED) return false;
    if (field === 1) response.status = readEmbedded(reader, readStatus);
    else if (field === 2) response.payload = reader.bytes();
    else return false;
    return true;
  });
  return response;
}
