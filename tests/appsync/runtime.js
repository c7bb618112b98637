// A stand-in for the APPSYNC_JS runtime's `util`, for unit tests in node.
//
// `@aws-appsync/utils` is what the resolvers import; in node it exports the `util` object
// empty (AppSync supplies the real one when it runs a resolver). This module fills that
// same object with the few functions the resolvers use, as AWS documents them
// (https://docs.aws.amazon.com/appsync/latest/devguide/resolver-util-reference-js.html):
// `util.error` and `util.unauthorized` stop the resolver (here: throw an AppSyncError),
// `util.dynamodb.toMapValues` writes DynamoDB's typed JSON, `util.time.nowEpochSeconds`
// reads a clock the test sets, and `util.authType` answers from the test's context.
import { util } from '@aws-appsync/utils';

export class AppSyncError extends Error {
  constructor(message, type) {
    super(message);
    this.type = type;
  }
}

const state = { now: 1_700_000_000, authType: 'API Key Authorization', ids: 0 };

function toValue(v) {
  if (v === null || v === undefined) return { NULL: true };
  if (typeof v === 'string') return { S: v };
  if (typeof v === 'number') return { N: String(v) };
  if (typeof v === 'boolean') return { BOOL: v };
  if (Array.isArray(v)) return { L: v.map(toValue) };
  return { M: toMapValues(v) };
}

function toMapValues(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) out[k] = toValue(v);
  return out;
}

Object.assign(util, {
  error(message, type) {
    throw new AppSyncError(message, type);
  },
  unauthorized() {
    throw new AppSyncError('Unauthorized', 'Unauthorized');
  },
  autoId() {
    state.ids += 1;
    return `00000000-0000-4000-8000-${String(state.ids).padStart(12, '0')}`;
  },
  authType() {
    return state.authType;
  },
  dynamodb: { toMapValues, toDynamoDB: toValue },
  time: {
    nowEpochSeconds: () => state.now,
    nowEpochMilliSeconds: () => state.now * 1000,
  },
});

function fromValue(v) {
  if ('S' in v) return v.S;
  if ('N' in v) return Number(v.N);
  if ('BOOL' in v) return v.BOOL;
  if ('NULL' in v) return null;
  if ('L' in v) return v.L.map(fromValue);
  return fromMapValues(v.M);
}

/** DynamoDB's typed JSON back to plain values, as AppSync gives a resolver `ctx.result`. */
export function fromMapValues(m) {
  const out = {};
  for (const [k, v] of Object.entries(m)) out[k] = fromValue(v);
  return out;
}

/** Sets the runtime's clock (epoch seconds). */
export function setNow(s) {
  state.now = s;
}

/** The authorization type AppSync would report for the request. */
export function setAuthType(t) {
  state.authType = t;
}

export const WRITER_ROLE_PREFIX =
  'arn:aws:sts::123456789012:assumed-role/burnbar-AppSyncWriterRole-ABC/';

/** A resolver context: arguments, the API's environment variables and an identity. */
export function ctx(args, { identity = null, env = {}, result, error } = {}) {
  return {
    args,
    env: { WRITER_ROLE_PREFIX, STATE_TTL_DAYS: '7', ...env },
    identity,
    result,
    error,
    stash: {},
  };
}

/** The identity AppSync gives a request signed by the writer function's role. */
export const writer = {
  accountId: '123456789012',
  userArn: `${WRITER_ROLE_PREFIX}burnbar-AppSyncWriterFunction-XYZ`,
  username: 'AROAEXAMPLE:burnbar-AppSyncWriterFunction-XYZ',
  sourceIp: ['10.0.0.1'],
};
