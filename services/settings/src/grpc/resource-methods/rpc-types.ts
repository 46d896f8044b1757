import type { handleUnaryCall } from '@grpc/grpc-js';
import type { Consistency, SettingsServiceServer } from '@settings/api';
import type { ReadThrough } from '../../cache/read-through';
import type { ConsistencyTokens } from '../../consistency/token';
import type { Db } from '../../db/db';
import type { ResourceProto } from '../../resources/resource';
import type { Unary } from '../unary';

/**
 * The request and response shapes every resource's methods share (settings_service.proto),
 * and the method names they are served under, spelled from the resource's proto names: for
 * `{ singular: 'AccountSettings', ... }` the methods are `getAccountSettings`, and so on.
 * `SettingsServiceServer` checks the result, so a misspelt noun or field fails to compile.
 */
export interface GetRequest {
  name: string;
  consistency?: Consistency | undefined;
}

export interface BatchGetRequest {
  names: string[];
  /** Only in the requests of resources below an account's own (AIP-231 `parent`). */
  parent?: string;
  consistency?: Consistency | undefined;
}

export type UpdateRequest<F extends string, T> = { [K in F]?: T | undefined } & {
  updateMask?: string[] | undefined;
  allowMissing: boolean;
};

/** The names a resource goes by in the proto; its message type is T. */
type ProtoNames = Omit<ResourceProto<unknown>, 'message'>;

export type ReadMethods<P extends ProtoNames, T> = { [M in `get${P['singular']}`]: handleUnaryCall<GetRequest, T> } & {
  [M in `batchGet${P['plural']}`]: handleUnaryCall<BatchGetRequest, { [F in P['pluralField']]: T[] }>;
};

export type SingletonMethods<P extends ProtoNames, T> = ReadMethods<P, T> & {
  [M in `update${P['singular']}`]: handleUnaryCall<UpdateRequest<P['field'], T>, T>;
};

/**
 * The request type of a method of the proto, by its server name. Used to check request field
 * names: a request of the wrong shape is still assignable to UpdateRequest (its field is
 * optional), so a misspelt `field` would otherwise compile and fail every call.
 */
export type RequestOf<M extends string> = M extends keyof SettingsServiceServer ? (Parameters<SettingsServiceServer[M]>[0] extends { request: infer Req } ? Req : never) : never;

/** What building a resource's methods needs. */
export interface MethodDeps {
  readonly unary: Unary;
  readonly readThrough: ReadThrough;
  readonly db: Db;
  /** Issues the tokens in responses and verifies the ones in requests. */
  readonly tokens: ConsistencyTokens;
}
