// Writes src/resources/iana-time-zone-names.ts from the IANA time zone database's zic input
// (Debian's tzdata package: /usr/share/zoneinfo/tzdata.zi): every `Z` (zone) and `L` (link) name.
//   node services/settings/scripts/generate-iana-time-zone-names.mjs [/usr/share/zoneinfo/tzdata.zi]
import { readFileSync, writeFileSync } from 'node:fs';

const source = process.argv[2] ?? '/usr/share/zoneinfo/tzdata.zi';
const lines = readFileSync(source, 'utf8').split('\n');
const version = lines[0].replace('# version ', '').trim();
const names = new Set();
for (const line of lines) {
  const f = line.split(' ');
  if (f[0] === 'Z') names.add(f[1]);
  else if (f[0] === 'L') names.add(f[2]);
}
let out = `/**
 * Every zone and link name of the IANA time zone database ${version}, spelled as IANA spells them:
 * ICU matches names without regard to case and answers a link with its target, so it cannot say
 * whether \`US/PACIFIC\` is spelled right (checks.ts isTimeZone). Generated from tzdata.zi by
 * scripts/generate-iana-time-zone-names.mjs. A zone added to the database later is not refused
 * for missing here: isTimeZone then asks ICU.
 */
export const IANA_TIME_ZONE_NAMES: readonly string[] = [
`;
let row = '  ';
for (const name of [...names].sort()) {
  const item = `'${name}', `;
  if (row.length + item.length > 100) {
    out += `${row.trimEnd()}\n`;
    row = '  ';
  }
  row += item;
}
out += `${row.trimEnd()}\n];\n`;
writeFileSync(new URL('../src/resources/iana-time-zone-names.ts', import.meta.url), out);
console.log(`${names.size} names of tzdata ${version}`);
