/**
 * The proto name of a request field, for violation paths (`accountSettings` → `account_settings`):
 * ts-proto camel-cases proto's lower_snake_case names, so this undoes it exactly.
 */
export function protoFieldPath(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
