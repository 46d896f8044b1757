import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INVALIDATOR_NODE_ARGS } from '../../src/service-node-args';
import { repoRoot } from '../../src/state-dir';

/** The image's CMD of one Dockerfile stage, as the JSON array it is written as. */
function stageCmd(stage: string): string[] {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const from = dockerfile.indexOf(` AS ${stage}\n`);
  if (from < 0) throw new Error(`no stage ${stage} in the Dockerfile`);
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile.slice(from));
  if (!cmd) throw new Error(`no CMD in stage ${stage}`);
  return JSON.parse(cmd[1]!) as string[];
}

describe('Node flags of the invalidator', () => {
  it('the container image runs the invalidator with the same flags as the local stack, the bench and the chaos fleet', () => {
    const cmd = stageCmd('invalidator');
    const script = cmd.indexOf('services/invalidator/dist/src/main.js');
    expect(script).toBeGreaterThan(0);
    const nodeFlags = cmd.slice(1, script).filter((flag) => flag !== '--enable-source-maps');
    expect(nodeFlags).toEqual([...INVALIDATOR_NODE_ARGS]);
  });
});
