// What the upper layers use from api/: generated message classes (one source: gen/proto.js),
// Any and Timestamp helpers, event building, and the Task service table.
export { containerd, google } from './gen/proto.js';
export { DecodeError, decodeMessage, encodeMessage, encodeNamed } from './codec.js';
export {
  AnyJsonError,
  AnyTypeError,
  JsonTypeUrl,
  isAnyOf,
  packAny,
  packJsonAny,
  unpackAny,
  unpackJsonAny,
  type AnyMessage,
} from './any.js';
export { GO_ZERO_TIME_SECONDS, fromTimestamp, goZeroTimestamp, isZeroTime, toTimestamp, toTimestampOrZero } from './timestamp.js';
export { EVENTS_SERVICE, Topic, buildTaskEvent, encodeForwardRequest, type TaskEvent } from './events.js';
export * from './messages.js';
export { TASK_SERVICE_V2, TASK_SERVICE_V3, taskMethods, type TaskMethodName, type TaskServiceHandlers } from './task-service.js';
export * from './types.js';
