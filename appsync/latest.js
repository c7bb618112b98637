// latest: the newest update of every car, from the race's recent batches (DynamoDB
// deletes expired items late, so expired ones are skipped here).
import { util } from '@aws-appsync/utils';

export function request(ctx) {
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
    limit: 64,
  };
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  const now = util.time.nowEpochSeconds();
  const latest = {};
  // APPSYNC_JS has no `continue`: expired items are skipped by the `if`.
  for (const item of ctx.result.items) {
    if (item.expires_at > now) {
      for (const u of JSON.parse(item.updates)) {
        const cur = latest[u.car];
        if (!cur || cur.seq < u.seq) {
          latest[u.car] = u;
        }
      }
    }
  }
  return Object.values(latest);
}
