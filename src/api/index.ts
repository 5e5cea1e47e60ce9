// What the upper layers use from api/: generated message classes (one source: gen/proto.js),
// Any and Timestamp helpers, event building, and the Task service table.
export { containerd, google, io, runtimeoptions } from './gen/proto.js';
export { CgroupsV1MetricsType, CgroupsV2MetricsType } from './metrics.js';
export {
  DecodeError, decodeMessage, decodeNamed, encodeMessage, encodeNamed, namedMessage,
  type MessageCodec, type MessageDecoder, type MessageEncoder, type NamedMessage,
} from './codec.js';
export {
  AnyJsonError, AnyTypeError, JsonTypeUrl, anyTypeName, isAnyOf, packAny, packJsonAny, unpackAny, unpackJsonAny, type AnyMessage,
} from './any.js';
export {
  GO_ZERO_TIME_SECONDS, fromTimestamp, goZeroTimestamp, isZeroTime, nowTimestamp, toTimestamp, toTimestampOrZero,
  type Timestamp,
} from './timestamp.js';
export {
  EVENTS_FORWARD_METHOD, EVENTS_SERVICE, Topic, buildTaskEvent, encodeForwardRequest,
  type TaskEvent, type TaskEventPayload, type TaskTopic,
} from './events.js';
export * from './messages.js';
export {
  TASK_SERVICE_V2, TASK_SERVICE_V3, taskMethods,
  type TaskMethodName, type TaskRequest, type TaskResponse, type TaskServiceHandlers,
} from './task-service.js';
export * from './types.js';
