import { AccountSettings, SettingsServiceService } from '@settings/api';
import { acceptingPreEncoded, messageOrCachedBytes } from '../../src/grpc/pre-encoded-response';

const message = AccountSettings.fromPartial({ name: 'accounts/a1/settings', displayName: 'x', etag: '7' });
const bytes = Buffer.from(AccountSettings.encode(message).finish());
const serialize = acceptingPreEncoded(SettingsServiceService).getAccountSettings.responseSerialize;

it('writes cached bytes to the wire as they are, and still encodes a message without them', () => {
  const cached = messageOrCachedBytes({ value: message, payload: bytes });
  expect(serialize(cached)).toBe(bytes);
  expect(serialize(messageOrCachedBytes({ value: message }))).toEqual(bytes);
  // The client sees the same message either way.
  expect(AccountSettings.decode(serialize(cached))).toEqual(message);
});

it('leaves the original service definition and every other method behaving as before', () => {
  expect(SettingsServiceService.getAccountSettings.responseSerialize(message)).toEqual(bytes);
  const wrapped = acceptingPreEncoded(SettingsServiceService);
  expect(Object.keys(wrapped)).toEqual(Object.keys(SettingsServiceService));
  expect(wrapped.updateAccountSettings.path).toBe(SettingsServiceService.updateAccountSettings.path);
});
