import { describe, expect, it } from 'vitest';
import {
  AnyTypeError,
  DecodeError,
  GO_ZERO_TIME_SECONDS,
  JsonTypeUrl,
  RuncOptionsType,
  Status,
  TASK_SERVICE_V2,
  TaskExitType,
  Topic,
  buildTaskEvent,
  containerd,
  decodeMessage,
  google,
  encodeForwardRequest,
  encodeMessage,
  fromTimestamp,
  goZeroTimestamp,
  isAnyOf,
  isZeroTime,
  packAny,
  packJsonAny,
  taskMethods,
  toTimestamp,
  toTimestampOrZero,
  unpackAny,
  unpackJsonAny,
} from '../../src/api/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const task = containerd.task.v2;

describe('DeleteResponse (the `delete` subcommand stdout)', () => {
  // docs/protocol.md §5: pid=14738 (92 73), exit_status=137 (89 01), exited_at of 12 bytes.
  const bytes = hex('0892 73 1089 01 1a0c 08 80e2cfaa06 10 ff93ebdc03');

  it('decodes the verified byte prefix', () => {
    const msg = decodeMessage(task.DeleteResponse, bytes, 'DeleteResponse');
    expect(msg.pid).toBe(14738);
    expect(msg.exitStatus).toBe(137);
    expect(msg.exitedAt?.seconds).toBe(1700000000);
    expect(msg.exitedAt?.nanos).toBe(999999999);
  });

  it('encodes to the same bytes', () => {
    const out = encodeMessage(task.DeleteResponse, {
      pid: 14738,
      exitStatus: 137,
      exitedAt: { seconds: 1700000000, nanos: 999999999 },
    });
    expect(out.subarray(0, 8).toString('hex')).toBe('0892731089011a0c');
    expect(out.equals(bytes)).toBe(true);
  });

  it('reads empty stdout as all zero, like containerd', () => {
    const msg = decodeMessage(task.DeleteResponse, new Uint8Array(0));
    expect(msg.pid).toBe(0);
    expect(msg.exitStatus).toBe(0);
    expect(isZeroTime(msg.exitedAt)).toBe(true);
  });

  it('throws a DecodeError naming the type on garbage', () => {
    expect(() => decodeMessage(task.DeleteResponse, hex('0a ff'), 'DeleteResponse')).toThrow(DecodeError);
    expect(() => decodeMessage(task.DeleteResponse, hex('0a ff'), 'DeleteResponse')).toThrow(/DeleteResponse/);
  });
});

describe('Timestamp', () => {
  it('keeps Go zero time (-62135596800) as a plain number through encode/decode', () => {
    const bytes = encodeMessage(task.WaitResponse, { exitedAt: goZeroTimestamp() });
    // seconds is a 10-byte two's complement varint (protobufjs also writes the explicit nanos=0).
    expect(bytes.toString('hex')).toBe('120d088092b8c398feffffff011000');
    // What a Go shim sends (nanos omitted) decodes the same.
    expect(decodeMessage(task.WaitResponse, hex('120b088092b8c398feffffff01')).exitedAt?.seconds).toBe(GO_ZERO_TIME_SECONDS);
    const back = decodeMessage(task.WaitResponse, bytes);
    expect(typeof back.exitedAt?.seconds).toBe('number');
    expect(back.exitedAt?.seconds).toBe(GO_ZERO_TIME_SECONDS);
    expect(isZeroTime(back.exitedAt)).toBe(true);
    expect(fromTimestamp(back.exitedAt)).toBeUndefined();
  });

  it('decodes a default Timestamp field to the number 0, not a Long', () => {
    const msg = decodeMessage(containerd.events.TaskExit, hex('1a 00 2a 00'));
    expect(msg.exitedAt?.seconds).toBe(0);
    expect(typeof msg.exitedAt?.seconds).toBe('number');
  });

  it('converts Date both ways, with nanos in [0, 1e9) before the epoch too', () => {
    const d = new Date('2024-05-06T07:08:09.123Z');
    const ts = toTimestamp(d);
    expect(ts).toEqual({ seconds: Math.floor(d.getTime() / 1000), nanos: 123_000_000 });
    expect(fromTimestamp(ts)?.getTime()).toBe(d.getTime());
    expect(toTimestamp(new Date(-1500))).toEqual({ seconds: -2, nanos: 500_000_000 });
    expect(toTimestampOrZero(undefined)).toEqual({ seconds: GO_ZERO_TIME_SECONDS, nanos: 0 });
  });
});

describe('Any', () => {
  // docs/protocol.md §3.1: what `ctr --runc-binary /usr/sbin/runc` writes to `start`'s stdin.
  const startStdin = Buffer.concat([
    hex('0a1a'),
    Buffer.from('containerd.runc.v1.Options'),
    hex('1210 320e'),
    Buffer.from('/usr/sbin/runc'),
  ]);

  it('unpacks the runc Options that `start` reads from stdin', () => {
    const any = decodeMessage(google.protobuf.Any, startStdin);
    expect(any.type_url).toBe('containerd.runc.v1.Options');
    expect(isAnyOf(any, RuncOptionsType)).toBe(true);
    expect(unpackAny(RuncOptionsType, any).binaryName).toBe('/usr/sbin/runc');
  });

  it('packs with a bare type URL, byte-identical to containerd', () => {
    const any = packAny(RuncOptionsType, { binaryName: '/usr/sbin/runc' });
    expect(any.type_url).toBe('containerd.runc.v1.Options');
    expect(encodeMessage(google.protobuf.Any, any).equals(startStdin)).toBe(true);
  });

  it('accepts the type.googleapis.com/ form when unpacking', () => {
    const any = { type_url: 'type.googleapis.com/containerd.runc.v1.Options', value: hex('3004') };
    expect(unpackAny(RuncOptionsType, any).root).toBe('');
    expect(unpackAny(RuncOptionsType, { ...any, value: hex('3a03 2f7872') }).root).toBe('/xr');
  });

  it('refuses another type', () => {
    const any = packAny(TaskExitType, { containerId: 'c' });
    expect(() => unpackAny(RuncOptionsType, any)).toThrow(AnyTypeError);
  });

  it('round-trips JSON payloads (exec spec)', () => {
    const spec = { args: ['sh', '-c', 'true'], cwd: '/', terminal: false };
    const any = packJsonAny(JsonTypeUrl.OciProcess, spec);
    expect(any.type_url).toBe('types.containerd.io/opencontainers/runtime-spec/1/Process');
    expect(unpackJsonAny(any, JsonTypeUrl.OciProcess)).toEqual(spec);
    expect(() => unpackJsonAny(any, JsonTypeUrl.OciLinuxResources)).toThrow(AnyTypeError);
  });
});

describe('events', () => {
  it('builds a TaskExit Any that decodes back', () => {
    const ev = buildTaskEvent(Topic.TaskExit, {
      containerId: 'c1',
      id: 'c1',
      pid: 4242,
      exitStatus: 137,
      exitedAt: { seconds: 1700000000, nanos: 5 },
    });
    expect(ev.topic).toBe('/tasks/exit');
    expect(ev.event.type_url).toBe('containerd.events.TaskExit');
    const back = unpackAny(TaskExitType, ev.event);
    expect(back.containerId).toBe('c1');
    expect(back.id).toBe('c1');
    expect(back.pid).toBe(4242);
    expect(back.exitStatus).toBe(137);
    expect(back.exitedAt?.seconds).toBe(1700000000);
    expect(back.exitedAt?.nanos).toBe(5);
  });

  it('wraps an event in a Forward request with a non-zero timestamp', () => {
    const ev = buildTaskEvent(Topic.TaskOOM, { containerId: 'c1' });
    const bytes = encodeForwardRequest('ns1', ev);
    const req = containerd.services.events.ttrpc.v1.ForwardRequest.decode(bytes);
    const env = req.envelope!;
    expect(env.namespace).toBe('ns1');
    expect(env.topic).toBe('/tasks/oom');
    expect(env.event?.type_url).toBe('containerd.events.TaskOOM');
    expect(isZeroTime(env.timestamp)).toBe(false);
  });
});

describe('Task service table', () => {
  it('has the 17 methods and the Status enum values containerd uses', () => {
    expect(TASK_SERVICE_V2).toBe('containerd.task.v2.Task');
    expect(Object.keys(taskMethods)).toHaveLength(17);
    expect([Status.UNKNOWN, Status.CREATED, Status.RUNNING, Status.STOPPED, Status.PAUSED, Status.PAUSING]).toEqual([0, 1, 2, 3, 4, 5]);
    // Empty responses encode to zero bytes (the ttrpc frame is then empty).
    expect(encodeMessage(taskMethods.Kill.response, {}).length).toBe(0);
    const state = decodeMessage(taskMethods.State.request, hex('0a02 6331 1202 6531'));
    expect(state.id).toBe('c1');
    expect(state.execId).toBe('e1');
  });
});
