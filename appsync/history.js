// history: a car's most recent updates, newest last (at most `limit`, default 120).
import { util } from '@aws-appsync/utils';

export function request(ctx) {
  const limit = Math.min(ctx.args.limit || 120, 720);
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
    limit: Math.min(limit * 4, 1000),
  };
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  const now = util.time.nowEpochSeconds();
  const limit = Math.min(ctx.args.limit || 120, 720);
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
  const all = Object.values(bySeq).sort((a, b) => a.seq - b.seq);
  return all.slice(Math.max(0, all.length - limit));
}
