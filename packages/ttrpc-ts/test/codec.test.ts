import { describe, expect, it } from 'vitest';
import {
  decodeHeader,
  decodeRequest,
  decodeResponse,
  encodeHeader,
  encodeRequest,
  encodeResponse,
  FrameReader,
  MAX_DATA_LENGTH,
  MessageType,
} from '../src/index.js';
import type { Frame, FrameHeader } from '../src/index.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

function collectingReader(): { reader: FrameReader; frames: Frame[]; oversized: FrameHeader[] } {
  const frames: Frame[] = [];
  const oversized: FrameHeader[] = [];
  const reader = new FrameReader({
    onFrame: (frame) => frames.push({ header: frame.header, data: Uint8Array.from(frame.data) }),
    onOversizedFrame: (header) => oversized.push(header),
  });
  return { reader, frames, oversized };
}

describe('frame header', () => {
  it('encodes length and stream id big-endian, then type and flags', () => {
    const bytes = encodeHeader({ length: 0x010203, streamId: 0x0a0b0c0d, type: MessageType.Response, flags: 0x05 });
    expect(hex(bytes)).toBe('00010203' + '0a0b0c0d' + '02' + '05');
  });

  it('decodes what it encodes, including the largest stream id', () => {
    const header = { length: MAX_DATA_LENGTH, streamId: 0xffffffff, type: MessageType.Data, flags: 4 };
    expect(decodeHeader(encodeHeader(header))).toEqual(header);
    expect(decodeHeader(fromHex('0000000c 00000003 01 00'))).toEqual({ length: 12, streamId: 3, type: 1, flags: 0 });
  });

  it('refuses a short header', () => {
    expect(() => decodeHeader(new Uint8Array(9))).toThrow(RangeError);
  });
});

describe('envelope', () => {
  it('encodes a Request field by field with proto3 defaults omitted', () => {
    const bytes = encodeRequest({
      service: 'svc',
      method: 'M',
      payload: new Uint8Array([1, 2]),
      timeoutNano: 1_000_000_000,
      metadata: [{ key: 'k', value: 'v' }],
    });
    expect(hex(bytes)).toBe(
      '0a03737663' + // service = "svc"
        '12014d' + // method = "M"
        '1a020102' + // payload
        '208094ebdc03' + // timeout_nano = 1e9 (varint)
        '2a06' +
        '0a016b' +
        '120176', // metadata { key "k", value "v" }
    );
    expect(hex(encodeRequest({ service: '', method: '', payload: new Uint8Array(0), timeoutNano: 0, metadata: [] }))).toBe('');
  });

  it('decodes a hand-built Request, keeping repeated metadata and skipping unknown fields', () => {
    const bytes = fromHex(
      '0a03737663 12014d 1a020102 208094ebdc03 2a060a016b120176 2a060a016b120177' +
        '3801' + // unknown varint field 7
        '0a0178', // a later service wins, as in proto3
    );
    expect(decodeRequest(bytes)).toEqual({
      service: 'x',
      method: 'M',
      payload: new Uint8Array([1, 2]),
      timeoutNano: 1_000_000_000,
      metadata: [
        { key: 'k', value: 'v' },
        { key: 'k', value: 'w' },
      ],
    });
  });

  it('decodes a negative timeout_nano (10-byte varint)', () => {
    expect(decodeRequest(fromHex('20fdffffffffffffffff01')).timeoutNano).toBe(-3);
  });

  it('rejects truncated input', () => {
    expect(() => decodeRequest(fromHex('0a05737663'))).toThrow();
    expect(() => decodeRequest(fromHex('2a0a0a016b'))).toThrow();
    // Node Buffers take another path in protobufjs; it must not truncate silently either.
    expect(() => decodeRequest(Buffer.from('0a0961', 'hex'))).toThrow();
  });

  it('encodes a success Response as just the payload, an empty one as 0 bytes', () => {
    expect(hex(encodeResponse({ payload: new Uint8Array([9]) }))).toBe('120109');
    expect(encodeResponse({ payload: new Uint8Array(0) }).length).toBe(0);
    expect(decodeResponse(new Uint8Array(0))).toEqual({ payload: new Uint8Array(0) });
  });

  it('encodes and decodes an error Response with a Status and details', () => {
    const bytes = encodeResponse({
      status: { code: 5, message: 'nf', details: [{ typeUrl: 't', value: new Uint8Array([7]) }] },
      payload: new Uint8Array(0),
    });
    expect(hex(bytes)).toBe('0a0e' + '0805' + '12026e66' + '1a06' + '0a0174' + '120107');
    expect(decodeResponse(Uint8Array.from(bytes))).toEqual({
      status: { code: 5, message: 'nf', details: [{ typeUrl: 't', value: new Uint8Array([7]) }] },
      payload: new Uint8Array(0),
    });
  });
});

describe('FrameReader', () => {
  const frameBytes = (streamId: number, data: number[]): Uint8Array =>
    new Uint8Array([...encodeHeader({ length: data.length, streamId, type: 1, flags: 0 }), ...data]);

  it('parses frames fed one byte at a time', () => {
    const { reader, frames } = collectingReader();
    const stream = new Uint8Array([...frameBytes(1, [1, 2, 3]), ...frameBytes(3, []), ...frameBytes(5, [4])]);
    for (const byte of stream) reader.push(new Uint8Array([byte]));
    expect(frames.map((f) => [f.header.streamId, [...f.data]])).toEqual([
      [1, [1, 2, 3]],
      [3, []],
      [5, [4]],
    ]);
    expect(reader.midFrame).toBe(false);
  });

  it('parses several frames from one chunk and a frame split across chunks', () => {
    const { reader, frames } = collectingReader();
    const stream = new Uint8Array([...frameBytes(1, [1]), ...frameBytes(3, [2, 2]), ...frameBytes(5, [3, 3, 3])]);
    reader.push(stream.subarray(0, 17));
    expect(frames.length).toBe(1);
    reader.push(stream.subarray(17));
    expect(frames.map((f) => [...f.data])).toEqual([[1], [2, 2], [3, 3, 3]]);
  });

  it('delivers a zero-length frame as soon as its header is complete', () => {
    const { reader, frames } = collectingReader();
    reader.push(encodeHeader({ length: 0, streamId: 7, type: MessageType.Response, flags: 0 }));
    expect(frames).toEqual([{ header: { length: 0, streamId: 7, type: 2, flags: 0 }, data: new Uint8Array(0) }]);
  });

  it('skips an oversized frame without buffering it, then parses the next one', () => {
    const { reader, frames, oversized } = collectingReader();
    const length = 5 << 20;
    reader.push(encodeHeader({ length, streamId: 1, type: MessageType.Request, flags: 0 }));
    const chunk = new Uint8Array(64 * 1024).fill(0xaa);
    for (let sent = 0; sent < length; sent += chunk.length) {
      expect(reader.bufferedBytes).toBe(0);
      expect(oversized).toEqual([]);
      reader.push(chunk.subarray(0, Math.min(chunk.length, length - sent)));
    }
    expect(oversized).toEqual([{ length, streamId: 1, type: 1, flags: 0 }]);
    expect(frames).toEqual([]);
    reader.push(frameBytes(3, [42]));
    expect(frames.map((f) => [f.header.streamId, [...f.data]])).toEqual([[3, [42]]]);
  });

  it('accepts a frame of exactly 4 MiB', () => {
    const { reader, frames, oversized } = collectingReader();
    reader.push(encodeHeader({ length: MAX_DATA_LENGTH, streamId: 1, type: 1, flags: 0 }));
    reader.push(new Uint8Array(MAX_DATA_LENGTH));
    expect(oversized).toEqual([]);
    expect(frames[0]?.data.length).toBe(MAX_DATA_LENGTH);
  });

  it('stops mid-chunk when told to', () => {
    const frames: number[] = [];
    const reader: FrameReader = new FrameReader({
      onFrame: (frame) => {
        frames.push(frame.header.streamId);
        reader.stop();
      },
      onOversizedFrame: () => {},
    });
    reader.push(new Uint8Array([...frameBytes(1, []), ...frameBytes(3, [])]));
    expect(frames).toEqual([1]);
  });
});
