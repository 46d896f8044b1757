import { classify } from '../../src/grpc/status-mapping';
import { closeIfUnanswered, UnansweredConnectionError } from '../../src/db/unanswered-connection';

/** The guard of one database call's connection (src/db/unanswered-connection.ts), on a fake pg client. */
describe('closeIfUnanswered', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const fakeClient = () => ({ connection: { stream: { destroy: jest.fn<void, [Error?]>() } } });

  it('closes the socket of a connection still in use after the delay, reports it once, and maps to DATABASE_UNAVAILABLE', async () => {
    const client = fakeClient();
    const onCut = jest.fn();
    const guard = closeIfUnanswered(client, 800, onCut);
    jest.advanceTimersByTime(799);
    expect(client.connection.stream.destroy).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    const error = await guard.cut.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnansweredConnectionError);
    expect(client.connection.stream.destroy).toHaveBeenCalledWith(error);
    expect(onCut).toHaveBeenCalledTimes(1);
    expect(classify(error).code).toBe('DATABASE_UNAVAILABLE');
  });

  it('a disarmed guard never closes the connection', () => {
    const client = fakeClient();
    const onCut = jest.fn();
    closeIfUnanswered(client, 800, onCut).disarm();
    jest.advanceTimersByTime(10_000);
    expect(client.connection.stream.destroy).not.toHaveBeenCalled();
    expect(onCut).not.toHaveBeenCalled();
  });
});
