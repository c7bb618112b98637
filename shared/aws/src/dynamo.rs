//! Car state and race state in one DynamoDB table (`pk`, `sk` strings; TTL attribute
//! `expires_at` in epoch seconds).
//!
//! | item | pk | sk | what |
//! |---|---|---|---|
//! | car | `race#<race>` | `car#<car>` | `ver`, `blob`: the car's state, applied event ids and outbox |
//! | race start | `race#<race>` | `start` | the `race_start` line |
//! | event | `race#<race>` | `ev#<ts>#<hash>` | a race-control line |
//! | summary | `race#<race>` | `sum#<car>` | the car's figures, position, retired, newest sample ts, open windows, when written |
//! | current race | `current` | `current` | the race of the latest `race_start` |
//!
//! One query (`sk > "d"`) reads a race's start, events and summaries; one `BatchGetItem`
//! reads a batch's cars. Car writes are conditional on `ver` (optimistic concurrency).
//! DynamoDB deletes expired items late (up to days), so every read drops an item whose
//! `expires_at` has passed, and a write may replace one.
//!
//! Compact items: a car's state is one binary attribute (postcard, a format byte first),
//! about a third of its JSON size, because write units are paid per started KiB. The
//! blob and the item's size are `burnbar_pipeline::item`'s, shared with the in-memory
//! store.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity};
use burnbar_core::CarId;
use burnbar_lambda::clock::now_s;
// The blob format is the pipeline's, so the in-memory store charges the same size.
use burnbar_metrics::log;
use burnbar_pipeline::item::write_units;
pub use burnbar_pipeline::item::{decode_blob, encode_blob};
use burnbar_pipeline::ports::{
    CarItem, CarRead, CarStore, CarSummary, PortError, RaceStore, RaceView, Saved, StoredEvent,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;

use crate::errors::{classify, within};

/// Keys per `BatchGetItem` (the service's limit).
const BATCH_GET_MAX: usize = 100;

/// The DynamoDB store.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// How long items live after their last write. 7 days: a race weekend and its
    /// replays; older races are history, not state.
    pub ttl: Duration,
}

#[derive(Debug, Serialize, Deserialize)]
struct CarRow {
    pk: String,
    sk: String,
    ver: u64,
    expires_at: i64,
    #[serde(with = "serde_bytes")]
    blob: Vec<u8>,
}

#[derive(Debug, Serialize, Deserialize)]
struct LineRow {
    pk: String,
    sk: String,
    ts: i64,
    line: String,
    expires_at: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SummaryRow {
    pk: String,
    sk: String,
    figures: Vec<(i64, f64)>,
    pos: f64,
    /// Absent in items written before it existed (the field's fuel window then waits
    /// for the car's next summary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fuel_per_green_lap: Option<f64>,
    retired: bool,
    /// Absent in items written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_ts: Option<i64>,
    #[serde(default)]
    open: bool,
    #[serde(default)]
    written_ms: i64,
    expires_at: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct CurrentRow {
    pk: String,
    sk: String,
    race: String,
    /// `ts` of the race's `race_start`: the pointer only moves forward.
    ts: i64,
    expires_at: i64,
}

fn race_pk(race: &str) -> String {
    format!("race#{race}")
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Whether an item read is past its TTL (absent, for every reader).
fn expired(item: &HashMap<String, AttributeValue>, now: i64) -> bool {
    match item.get("expires_at") {
        Some(AttributeValue::N(x)) => x.parse::<i64>().is_ok_and(|t| t <= now),
        _ => false,
    }
}

/// DynamoDB's item size: attribute names plus values (numbers roughly 1 byte per two
/// digits plus one), which is what write units are charged on.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    fn val(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len().div_ceil(2) + 1,
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + val(v)).sum::<usize>(),
            AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| 1 + k.len() + val(v)).sum::<usize>(),
            _ => 0,
        }
    }
    item.iter().map(|(k, v)| k.len() + val(v)).sum()
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            ttl: Duration::from_secs(7 * 24 * 3600),
        }
    }

    fn expires_at(&self) -> i64 {
        now_s() + self.ttl.as_secs() as i64
    }

    fn to_item<T: Serialize>(row: &T) -> Result<HashMap<String, AttributeValue>, PortError> {
        serde_dynamo::to_item(row)
            .map_err(|e| PortError::Permanent(format!("item does not encode: {e}")))
    }

    /// A car item as read: its car (from the key, which a `BatchGetItem` answer always
    /// carries) and its decoded state, or why that car's item does not decode (a
    /// permanent error of that car alone: the batch's other cars are read as usual).
    /// `None`: the key itself is not a car's (nothing to attribute the item to).
    fn car_from(item: HashMap<String, AttributeValue>) -> Option<(CarId, CarRead)> {
        let car = match item.get("sk") {
            Some(AttributeValue::S(sk)) => {
                sk.strip_prefix("car#").and_then(|c| CarId::parse(c).ok())
            }
            _ => None,
        }?;
        let read = serde_dynamo::from_item::<_, CarRow>(item)
            .map_err(|e| PortError::Permanent(format!("car item does not decode: {e}")))
            .and_then(|row| decode_blob(&row.blob, row.ver));
        Some((car, read))
    }
}

/// The row that saving `item` writes (the stored version is `item.version + 1`).
fn car_row(race_id: &str, item: &CarItem, expires_at: i64) -> Result<CarRow, PortError> {
    Ok(CarRow {
        pk: race_pk(race_id),
        sk: format!("car#{}", item.state.car.as_str()),
        ver: item.version + 1,
        expires_at,
        blob: encode_blob(item)?,
    })
}

impl CarStore for DynamoStore {
    async fn load_cars_each(
        &self,
        race_id: &str,
        cars: &[CarId],
        deadline: Instant,
    ) -> Result<BTreeMap<CarId, CarRead>, PortError> {
        let pk = race_pk(race_id);
        let mut out = BTreeMap::new();
        let now = now_s();
        for chunk in cars.chunks(BATCH_GET_MAX) {
            let keys: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|c| {
                    HashMap::from([
                        ("pk".to_owned(), s(&pk)),
                        ("sk".to_owned(), s(&format!("car#{}", c.as_str()))),
                    ])
                })
                .collect();
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| PortError::Permanent(e.to_string()))?,
            );
            let mut backoff = Duration::from_millis(20);
            while let Some(req) = pending.take() {
                let resp = within(deadline, "load cars", async {
                    self.client
                        .batch_get_item()
                        .request_items(&self.table, req)
                        .send()
                        .await
                        .map_err(|e| classify("BatchGetItem", e))
                })
                .await?;
                if let Some(items) = resp.responses().and_then(|r| r.get(&self.table)) {
                    for item in items {
                        if expired(item, now) {
                            continue;
                        }
                        match Self::car_from(item.clone()) {
                            Some((car, read)) => {
                                out.insert(car, read);
                            }
                            None => log(
                                "error",
                                "an item read as a car has no car key: skipped",
                                None,
                                &[("sk", json!(format!("{:?}", item.get("sk"))))],
                            ),
                        }
                    }
                }
                // Keys the service did not get to (throttling): asked again, backing off.
                if let Some(rest) = resp.unprocessed_keys().and_then(|u| u.get(&self.table))
                    && !rest.keys().is_empty()
                {
                    if Instant::now() + backoff >= deadline {
                        return Err(PortError::Retryable(
                            "load cars: keys left unprocessed".into(),
                        ));
                    }
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    pending = Some(rest.clone());
                }
            }
        }
        Ok(out)
    }

    async fn save_car(
        &self,
        race_id: &str,
        item: &CarItem,
        deadline: Instant,
    ) -> Result<Saved, PortError> {
        let attrs = Self::to_item(&car_row(race_id, item, self.expires_at())?)?;
        let size = item_size(&attrs);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attrs))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .expression_attribute_values(":now", n(now_s()));
        put = if item.version == 0 {
            // New, or replacing an item past its TTL that DynamoDB has not deleted yet.
            put.condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
        } else {
            put.condition_expression("ver = :v AND expires_at > :now")
                .expression_attribute_values(":v", n(item.version))
        };
        let res = within(deadline, "save car", async {
            match put.send().await {
                Ok(r) => Ok(Some(r)),
                Err(e) => {
                    if e.as_service_error()
                        .is_some_and(|se| se.is_conditional_check_failed_exception())
                    {
                        Ok(None)
                    } else {
                        Err(classify("PutItem car", e))
                    }
                }
            }
        })
        .await?;
        Ok(match res {
            None => Saved::Conflict,
            Some(r) => Saved::Ok {
                item_bytes: size,
                write_units: r
                    .consumed_capacity()
                    .and_then(|c| c.capacity_units())
                    .unwrap_or(write_units(size)),
            },
        })
    }
}

impl RaceStore for DynamoStore {
    async fn current_race(&self, deadline: Instant) -> Result<Option<String>, PortError> {
        let resp = within(deadline, "current race", async {
            self.client
                .get_item()
                .table_name(&self.table)
                .key("pk", s("current"))
                .key("sk", s("current"))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| classify("GetItem current", e))
        })
        .await?;
        match resp.item() {
            Some(item) if !expired(item, now_s()) => {
                let row: CurrentRow = serde_dynamo::from_item(item.clone())
                    .map_err(|e| PortError::Permanent(format!("current race item: {e}")))?;
                Ok(Some(row.race))
            }
            _ => Ok(None),
        }
    }

    async fn load_race(&self, race_id: &str, deadline: Instant) -> Result<RaceView, PortError> {
        let mut view = RaceView {
            race_id: race_id.to_owned(),
            ..RaceView::default()
        };
        let now = now_s();
        let mut start_key = None;
        loop {
            let resp = within(deadline, "load race", async {
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND sk > :d")
                    .expression_attribute_values(":pk", s(&race_pk(race_id)))
                    .expression_attribute_values(":d", s("d"))
                    .consistent_read(true)
                    .set_exclusive_start_key(start_key.take())
                    .send()
                    .await
                    .map_err(|e| classify("Query race", e))
            })
            .await?;
            for item in resp.items() {
                if expired(item, now) {
                    continue;
                }
                let sk = match item.get("sk") {
                    Some(AttributeValue::S(sk)) => sk.clone(),
                    _ => continue,
                };
                let bad =
                    |e: serde_dynamo::Error| PortError::Permanent(format!("race item {sk}: {e}"));
                if sk == "start" || sk.starts_with("ev#") {
                    let row: LineRow = serde_dynamo::from_item(item.clone()).map_err(bad)?;
                    let ev = StoredEvent {
                        ts: row.ts,
                        id: sk.trim_start_matches("ev#").to_owned(),
                        line: row.line,
                    };
                    if sk == "start" {
                        view.start = Some(ev);
                    } else {
                        view.events.push(ev);
                    }
                } else if let Some(car) = sk.strip_prefix("sum#") {
                    let row: SummaryRow = serde_dynamo::from_item(item.clone()).map_err(bad)?;
                    if let Ok(car) = CarId::parse(car) {
                        view.summaries.insert(
                            car,
                            CarSummary {
                                figures: row.figures,
                                pos: row.pos,
                                fuel_per_green_lap: row.fuel_per_green_lap,
                                retired: row.retired,
                                last_ts: row.last_ts,
                                open: row.open,
                                written_ms: row.written_ms,
                            },
                        );
                    }
                }
            }
            match resp.last_evaluated_key() {
                Some(k) if !k.is_empty() => start_key = Some(k.clone()),
                _ => break,
            }
        }
        view.events.sort();
        Ok(view)
    }

    async fn put_event(
        &self,
        race_id: &str,
        event: &StoredEvent,
        is_start: bool,
        deadline: Instant,
    ) -> Result<bool, PortError> {
        let row = LineRow {
            pk: race_pk(race_id),
            sk: if is_start {
                "start".to_owned()
            } else {
                format!("ev#{}", event.id)
            },
            ts: event.ts,
            line: event.line.clone(),
            expires_at: self.expires_at(),
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::to_item(&row)?))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", n(now_s()));
        let new = within(deadline, "put event", async {
            match put.send().await {
                Ok(_) => Ok(true),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
                {
                    Ok(false)
                }
                Err(e) => Err(classify("PutItem event", e)),
            }
        })
        .await?;
        if is_start {
            // Also when the start was stored before: a redelivery after the pointer's
            // write failed must still move it. It only moves forward in time, so an old
            // race_start delivered again cannot take it back.
            let cur = CurrentRow {
                pk: "current".into(),
                sk: "current".into(),
                race: race_id.to_owned(),
                ts: event.ts,
                expires_at: self.expires_at(),
            };
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(Self::to_item(&cur)?))
                .condition_expression("attribute_not_exists(pk) OR ts <= :ts OR expires_at <= :now")
                .expression_attribute_values(":ts", n(event.ts))
                .expression_attribute_values(":now", n(now_s()));
            within(deadline, "put current race", async {
                match put.send().await {
                    Ok(_) => Ok(()),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(classify("PutItem current", e)),
                }
            })
            .await?;
        }
        Ok(new)
    }

    async fn put_summary(
        &self,
        race_id: &str,
        car: CarId,
        summary: &CarSummary,
        deadline: Instant,
    ) -> Result<(), PortError> {
        let row = SummaryRow {
            pk: race_pk(race_id),
            sk: format!("sum#{}", car.as_str()),
            figures: summary.figures.clone(),
            pos: summary.pos,
            fuel_per_green_lap: summary.fuel_per_green_lap,
            retired: summary.retired,
            last_ts: summary.last_ts,
            open: summary.open,
            written_ms: summary.written_ms,
            expires_at: self.expires_at(),
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::to_item(&row)?));
        within(deadline, "put summary", async {
            put.send()
                .await
                .map(|_| ())
                .map_err(|e| classify("PutItem summary", e))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burnbar_core::FuelUpdate;
    use burnbar_core::car::CarState;
    use burnbar_pipeline::item::{blob_len, car_item_bytes};

    #[test]
    fn the_item_size_is_the_one_the_memory_store_charges() {
        let mut item = CarItem::new(CarState::new(CarId::parse("24").unwrap(), 20.0));
        item.applied = vec!["000000000000001#00ff".into(); 3];
        for version in [0, 9, 99, 12_345] {
            item.version = version;
            let row = car_row("2026-pocono", &item, now_s() + 7 * 24 * 3600).unwrap();
            assert_eq!(row.blob.len(), blob_len(&item).unwrap());
            let attrs = DynamoStore::to_item(&row).unwrap();
            assert_eq!(
                item_size(&attrs),
                car_item_bytes("2026-pocono", &item, row.blob.len()),
                "version {version}"
            );
        }
    }

    #[test]
    fn the_blob_round_trips_and_refuses_other_formats() {
        let mut item = CarItem::new(CarState::new(CarId::parse("24").unwrap(), 20.0));
        item.applied = vec!["000000000000001#00ff".into()];
        // An outbox update with null and non-null optional numbers (the format is not
        // self-describing: every field must encode as it decodes).
        let u: FuelUpdate = serde_json::from_str(
            r#"{"v":1,"race_id":"r","car":"24","seq":1,"window_start":5000,"window_end":10000,"lap":1.5,"flag":"green","in_pit":false,"samples":50,"miles":0.2,"burn_gal":0.05,"burn_rate_gph":36.0,"mpg_window":4.0,"mpg_lap":null,"mpg_stint":4.0,"used_stint_gal":0.05,"used_race_gal":0.05,"remaining_gal":19.95,"remaining_low_gal":19.9,"remaining_high_gal":20.0,"laps_to_empty":null,"save_needed_pct":null,"burn_index":1.01,"mode":"normal","model":"physics"}"#,
        )
        .unwrap();
        item.outbox = vec![u.clone(), u];
        let blob = encode_blob(&item).unwrap();
        let back = decode_blob(&blob, 7).unwrap();
        assert_eq!(back.state, item.state);
        assert_eq!(back.applied, item.applied);
        assert_eq!(back.version, 7);
        assert_eq!(back.outbox, item.outbox);
        let mut other = blob.clone();
        other[0] = 9;
        assert!(
            matches!(decode_blob(&other, 1), Err(PortError::Permanent(m)) if m.contains("format 9"))
        );
        assert!(decode_blob(&blob[..blob.len() / 2], 1).is_err());
    }
}
