// publishRaceState: keeps the race's latest state for the `raceState` query, then
// returns it, which fires the `onRaceState` subscription of that race. The state is stored
// whole (every field of RaceStateInput, `fuel_window_lap` and `cant_make_it_pct` included:
// the writer has checked them against the contract).
import { util } from '@aws-appsync/utils';

const TTL_S = 7 * 24 * 3600;

export function request(ctx) {
  const s = ctx.args.state;
  return {
    operation: 'PutItem',
    key: util.dynamodb.toMapValues({ pk: `race#${s.race_id}`, sk: 'state' }),
    attributeValues: util.dynamodb.toMapValues({
      state: JSON.stringify(s),
      ts: s.ts,
      expires_at: util.time.nowEpochSeconds() + TTL_S,
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
