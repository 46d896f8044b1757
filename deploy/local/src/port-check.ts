import { createConnection } from 'node:net';
import { StartupError } from './wait-until';

/**
 * Before starting a component, make sure nothing else holds its port: typically the stack of
 * another checkout (same ports, different state folder). Without this the component fails
 * later with a confusing "address in use" deep in its own log.
 */
export async function ensurePortFree(component: string, port: number): Promise<void> {
  const inUse = await new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (inUse) {
    throw new StartupError(
      component,
      `port ${port} is already in use by a process this checkout did not start (another checkout's stack? run "npm run stack -- down" there)`,
    );
  }
}
