// publishRaceState: keeps the race's latest state for the `raceState` query, then
// returns it, which fires the `onRaceState` subscription of that race. The state is stored
// whole (every field of RaceStateInput, `fuel_window_lap` and `cant_make_it_pct` included:
// the writer has checked them against the contract). Only the appsync-writer's role may
// call it (see publishUpdates.js).
import { util } from '@aws-appsync/utils';

const DEFAULT_TTL_DAYS = 7;

function ttlSeconds(ctx) {
  const days = Number((ctx.env || {}).STATE_TTL_DAYS);
  return (days > 0 ? days : DEFAULT_TTL_DAYS) * 24 * 3600;
}

function assertWriter(ctx) {
  const prefix = (ctx.env || {}).WRITER_ROLE_PREFIX || '';
  const arn = (ctx.identity && ctx.identity.userArn) || '';
  if (util.authType() !== 'IAM Authorization' || prefix === '' || !arn.startsWith(prefix)) {
    util.unauthorized();
  }
}

export function request(ctx) {
  assertWriter(ctx);
  const s = ctx.args.state;
  return {
    operation: 'PutItem',
    key: util.dynamodb.toMapValues({ pk: `race#${s.race_id}`, sk: 'state' }),
    attributeValues: util.dynamodb.toMapValues({
      state: JSON.stringify(s),
      ts: s.ts,
      expires_at: util.time.nowEpochSeconds() + ttlSeconds(ctx),
    }),
    // A state older than the stored one (a redelivery) does not replace it.
    condition: {
      expression: 'attribute_not_exists(pk) OR #ts <= :ts',
      expressionNames: { '#ts': 'ts' },
      expressionValues: util.dynamodb.toMapValues({ ':ts': s.ts }),
    },
  };
}

export function response(ctx) {
  if (ctx.error && ctx.error.type !== 'DynamoDB:ConditionalCheckFailedException') {
    util.error(ctx.error.message, ctx.error.type);
  }
  return ctx.args.state;
}
