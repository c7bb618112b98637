// history: a car's most recent updates, newest last: `limit` of them (default 120, ten
// minutes of 5 s windows), at most HISTORY_MAX. The bound keeps what one viewer's query
// costs small (the viewers' API key is public): one Query of at most QUERY_ITEMS batch
// items (and DynamoDB's 1 MB page), whatever the arguments.
import { util } from '@aws-appsync/utils';

const HISTORY_DEFAULT = 120;
const HISTORY_MAX = 240;
const QUERY_ITEMS = 480;

function boundedLimit(ctx) {
  const l = ctx.args.limit;
  if (l === undefined || l === null) {
    return HISTORY_DEFAULT;
  }
  if (l < 0) {
    util.error(`history: limit must be 0 or more, got ${l}`, 'BadRequestException');
  }
  return Math.min(l, HISTORY_MAX);
}

export function request(ctx) {
  const limit = boundedLimit(ctx);
  return {
    operation: 'Query',
    query: {
      expression: 'pk = :pk AND begins_with(sk, :b)',
      expressionValues: util.dynamodb.toMapValues({
        ':pk': `race#${ctx.args.race_id}`,
        ':b': 'batch#',
      }),
    },
    scanIndexForward: false,
    // Several batches per window when the stream has several shards.
    limit: Math.max(1, Math.min(limit * 2, QUERY_ITEMS)),
  };
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  const now = util.time.nowEpochSeconds();
  const limit = boundedLimit(ctx);
  const bySeq = {};
  // APPSYNC_JS has no `continue`: expired items are skipped by the `if`.
  for (const item of ctx.result.items) {
    if (item.expires_at > now) {
      for (const u of JSON.parse(item.updates)) {
        if (u.car === ctx.args.car) {
          bySeq[u.seq] = u;
        }
      }
    }
  }
  // Oldest first, without a comparator (the runtime's linter refuses functions passed to
  // sort): the batches come newest first, so each update usually goes to the front.
  const all = [];
  for (const u of Object.values(bySeq)) {
    const i = all.findIndex((x) => x.seq > u.seq);
    if (i < 0) {
      all.push(u);
    } else {
      all.splice(i, 0, u);
    }
  }
  return all.slice(Math.max(0, all.length - limit));
}
