// raceState: the race's latest state, absent once expired.
import { util } from '@aws-appsync/utils';

export function request(ctx) {
  return {
    operation: 'GetItem',
    key: util.dynamodb.toMapValues({ pk: `race#${ctx.args.race_id}`, sk: 'state' }),
  };
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  const item = ctx.result;
  if (!item || item.expires_at <= util.time.nowEpochSeconds()) {
    return null;
  }
  return JSON.parse(item.state);
}
