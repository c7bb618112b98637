// publishUpdates: keeps the batch for the `latest` and `history` queries (one item per
// batch, with the table's TTL), then returns it, which fires the `onUpdates`
// subscription of that race.
import { util } from '@aws-appsync/utils';

const TTL_S = 7 * 24 * 3600;

export function request(ctx) {
  const end = ctx.args.updates.reduce((m, u) => (u.window_end > m ? u.window_end : m), 0);
  return {
    operation: 'PutItem',
    key: util.dynamodb.toMapValues({
      pk: `race#${ctx.args.race_id}`,
      sk: `batch#${String(end).padStart(15, '0')}#${util.autoId()}`,
    }),
    attributeValues: util.dynamodb.toMapValues({
      updates: JSON.stringify(ctx.args.updates),
      expires_at: util.time.nowEpochSeconds() + TTL_S,
    }),
  };
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  return { race_id: ctx.args.race_id, updates: ctx.args.updates };
}
