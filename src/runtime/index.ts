/** The runtime layer's public API: OCI spec generation, conmon + crun/runc, logs, and a fake for tests. */
export type {
  ContainerRuntime,
  CreateOptions,
  CreateResult,
  ExitInfo,
  LogRecord,
  RuntimeState,
  RuntimeStatus,
} from './runtime.js';
export type * from './oci-spec.js';
export {
  buildSpec,
  cgroupsPathFor,
  readHostDevices,
  resolveCapabilities,
  DEFAULT_PATH,
  MASKED_PATHS,
  READONLY_PATHS,
  type SpecInput,
  type ResourcesInput,
  type DeviceInput,
  type NamespaceMode,
} from './spec.js';
export {
  CAPABILITIES,
  DEFAULT_CAPABILITIES,
  capabilitiesFromMask,
  hostLimits,
  normalizeCapability,
  type HostLimits,
} from './capabilities.js';
export { defaultSeccompProfile } from './seccomp.js';
export {
  resolveUser,
  resolveUserSpec,
  resolveInRoot,
  readFileInRoot,
  NoSuchUserError,
  type ResolvedUser,
} from './user.js';
export { ensureCgroupLayout, assertUsableForCrun, type CgroupInfo, type CgroupSetupOptions } from './cgroup-setup.js';
export {
  ConmonRuntime,
  OciCreateError,
  describeCreateFailure,
  normalizeSignal,
  type ConmonRuntimeOptions,
} from './conmon-runtime.js';
export { SpawnConmonLauncher, type ConmonLauncher, type LaunchResult, type SyncMessage } from './conmon-launcher.js';
export { readLogs, parseLogLine, dockerTimestamp, type ReadLogsOptions } from './log-reader.js';
export { FakeRuntime, interpretCommand, type FakeBehaviour } from './fake-runtime.js';
