// Public API of @settings/api: the gRPC contract of the settings service, generated from proto/
// by `npm run generate`. Named re-exports (not `export *`) so the public surface is deliberate
// and a new proto message does not become API by accident.

// The promise-based client backend teams use (deadline, retries, token, typed errors).
export {
  createSettingsClient,
  DEFAULT_CHANNEL_OPTIONS,
  type CallOptions,
  type RequestOf,
  type ResponseOf,
  type SettingsClient,
  type SettingsClientOptions,
  type SettingsMethod,
} from './client/settings-client';
export { SettingsApiError, type FieldViolation } from './client/settings-api-error';
export type { RetryOptions } from './client/retry-policy';
export type { TokenSource } from './client/bearer-token';
export { SettingsWatch, watchSettings, type SettingsWatchOptions, type WatchedValue } from './client/settings-watch';

export {
  SettingsServiceClient,
  SettingsServiceService,
  type SettingsServiceServer,
} from './gen/settings/v1/settings_service';

export { Consistency } from './gen/settings/v1/consistency';

export {
  AccountSettings,
  AppointmentDefaults,
  BillingSettings,
  NotificationPreferences,
} from './gen/settings/v1/account_settings';
export {
  BatchGetAccountSettingsRequest,
  BatchGetAccountSettingsResponse,
  GetAccountSettingsRequest,
  UpdateAccountSettingsRequest,
} from './gen/settings/v1/account_settings_requests';

export {
  DayOfWeek,
  DoctorNotificationPreferences,
  DoctorSettings,
  WorkingHours,
  dayOfWeekFromJSON,
  dayOfWeekToJSON,
} from './gen/settings/v1/doctor_settings';
export {
  BatchGetDoctorSettingsRequest,
  BatchGetDoctorSettingsResponse,
  GetDoctorSettingsRequest,
  UpdateDoctorSettingsRequest,
} from './gen/settings/v1/doctor_settings_requests';

export { OnPatientSettings } from './gen/settings/v1/onpatient_settings';
export {
  BatchGetOnPatientSettingsRequest,
  BatchGetOnPatientSettingsResponse,
  GetOnPatientSettingsRequest,
  UpdateOnPatientSettingsRequest,
} from './gen/settings/v1/onpatient_settings_requests';

export { Role, StaffPermission, roleFromJSON, roleToJSON } from './gen/settings/v1/staff_permission';
export {
  BatchGetStaffPermissionsRequest,
  BatchGetStaffPermissionsResponse,
  CreateStaffPermissionRequest,
  DeleteStaffPermissionRequest,
  GetStaffPermissionRequest,
  ListStaffPermissionsRequest,
  ListStaffPermissionsResponse,
  UpdateStaffPermissionRequest,
} from './gen/settings/v1/staff_permission_requests';

export {
  SettingsChange,
  StaffPermissionChanges,
  WatchProgress,
  WatchSettingsRequest,
  WatchSettingsResponse,
  WatchTarget,
  WatchedVersion,
} from './gen/settings/v1/watch';

// AIP-193 error model: the server packs these into google.rpc.Status (grpc-status-details-bin);
// clients decode Status and then each `details` Any by its type URL.
export { Status } from './gen/google/rpc/status';
export {
  BadRequest,
  BadRequest_FieldViolation,
  DebugInfo,
  ErrorInfo,
  Help,
  Help_Link,
  LocalizedMessage,
  PreconditionFailure,
  PreconditionFailure_Violation,
  QuotaFailure,
  QuotaFailure_Violation,
  RequestInfo,
  ResourceInfo,
  RetryInfo,
} from './gen/google/rpc/error_details';
export { Any } from './gen/google/protobuf/any';
export { Duration } from './gen/google/protobuf/duration';
