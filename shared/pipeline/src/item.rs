//! A car item as a store keeps it: the state, applied ids and outbox as one compact
//! binary blob (postcard, a format byte first), and the size that item is charged at.
//!
//! The DynamoDB adapter writes exactly this blob; the in-memory store measures it
//! without encoding it, so both report the same item size and write units.

use burnbar_core::FuelUpdate;
use burnbar_core::car::{CarState, CarStateV3};

use crate::ports::{AppliedFloor, CarItem, PortError};

/// Format of the car blob; a blob of another format is refused, never guessed at.
/// Postcard is not self-describing, so any change to the layout of `CarState` (or the
/// applied ids and outbox) must bump it. 2: the fuel cell learns the car's efficiency
/// (`Fuel::stint_eff`, `start_full`, `learn_n`, `learn_sum`). 3: it also learns from
/// fills sized from standing time (`start_at_cap`, `fill_prec`, `fill_sum`) and keeps
/// what the car burned since it left its box (`since_box`). 4: the car keeps whether it
/// is in its final window, and a queued `pit_out` its `tires` and `box_s`. 5: the
/// applied ids are pruned to the newest [`crate::race::APPLIED_MAX`], with the floor
/// below which every event counts as applied ([`AppliedFloor`]), after the ids.
///
/// The reader keeps the previous formats (4: no floor; 3: [`CarStateV3`]), so that a
/// deploy in the middle of a race reads what the deployed version stored; the fixtures
/// `tests/fixtures/car-blob-v*.hex` pin each layout.
pub const BLOB_FORMAT: u8 = 5;

/// DynamoDB's item limit (400 KB, attribute names and values): a larger item is refused
/// with a `ValidationException`, which no retry gets past.
pub const DYNAMO_ITEM_MAX_BYTES: usize = 400 * 1024;

/// Largest car item the pipeline writes, by DynamoDB's own count ([`car_item_bytes`]).
/// 16 KiB under [`DYNAMO_ITEM_MAX_BYTES`]: the count is DynamoDB's documented rule, and
/// the margin covers its rounding of numbers. A car over it is not written: its batch's
/// samples are set aside with the reason (`car_item_too_large`), and the rest of the race
/// goes on. A car at 5 Hz ends a 250-lap race at about 2.5 KB (`tests/hostile_limits.rs`
/// measures it); what fills an item is samples held in open windows (at most one per
/// millisecond for 10 s with the default window and lateness: about 345 KB for a car
/// sending every millisecond) and the outbox while the writer is down (at most
/// `outbox_max` updates, about 88 KB).
pub const CAR_ITEM_MAX_BYTES: usize = DYNAMO_ITEM_MAX_BYTES - 16 * 1024;

/// Encodes a car item's state, applied ids, their floor and outbox.
pub fn encode_blob(item: &CarItem) -> Result<Vec<u8>, PortError> {
    let mut out = vec![BLOB_FORMAT];
    let body = postcard::to_stdvec(&(&item.state, &item.applied, &item.floor, &item.outbox))
        .map_err(|e| PortError::Permanent(format!("car state does not encode: {e}")))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes [`encode_blob`]'s output.
pub fn decode_blob(blob: &[u8], version: u64) -> Result<CarItem, PortError> {
    match blob.split_first() {
        Some((&BLOB_FORMAT, body)) => {
            let (state, applied, floor, outbox): Format5 =
                postcard::from_bytes(body).map_err(|e| {
                    PortError::Permanent(format!("stored car state does not decode: {e}"))
                })?;
            Ok(CarItem {
                state,
                applied,
                floor,
                outbox,
                version,
            })
        }
        Some((4, body)) => {
            let (state, applied, outbox): (CarState, Vec<String>, Vec<FuelUpdate>) =
                postcard::from_bytes(body).map_err(|e| {
                    PortError::Permanent(format!(
                        "stored car state (format 4) does not decode: {e}"
                    ))
                })?;
            Ok(CarItem {
                state,
                applied,
                floor: None,
                outbox,
                version,
            })
        }
        Some((3, body)) => {
            let (state, applied, outbox): (CarStateV3, Vec<String>, Vec<FuelUpdate>) =
                postcard::from_bytes(body).map_err(|e| {
                    PortError::Permanent(format!(
                        "stored car state (format 3) does not decode: {e}"
                    ))
                })?;
            Ok(CarItem {
                state: state.into(),
                applied,
                floor: None,
                outbox,
                version,
            })
        }
        Some((f, _)) => Err(PortError::Permanent(format!(
            "stored car state has format {f}, this build reads 3 to {BLOB_FORMAT}"
        ))),
        None => Err(PortError::Permanent("stored car state is empty".into())),
    }
}

/// Format 5's body.
type Format5 = (CarState, Vec<String>, Option<AppliedFloor>, Vec<FuelUpdate>);

/// The length of [`encode_blob`]'s output, counted without building it.
pub fn blob_len(item: &CarItem) -> Result<usize, PortError> {
    postcard::experimental::serialized_size(&(
        &item.state,
        &item.applied,
        &item.floor,
        &item.outbox,
    ))
    .map(|n| n + 1)
    .map_err(|e| PortError::Permanent(format!("car state does not encode: {e}")))
}

/// DynamoDB's size of a number attribute's value: about one byte per two digits, plus one.
fn number_bytes(digits: usize) -> usize {
    digits.div_ceil(2) + 1
}

/// The size DynamoDB charges for the car item that saving `item` writes (the stored
/// version is `item.version + 1`), with a blob of `blob_len` bytes: attribute names plus
/// values of `pk` (`race#<race>`), `sk` (`car#<car>`), `ver`, `expires_at` (epoch
/// seconds: 10 digits until the year 2286) and `blob`.
pub fn car_item_bytes(race_id: &str, item: &CarItem, blob_len: usize) -> usize {
    let ver_digits = (item.version + 1).ilog10() as usize + 1;
    ("pk".len() + "race#".len() + race_id.len())
        + ("sk".len() + "car#".len() + item.state.car.as_str().len())
        + ("ver".len() + number_bytes(ver_digits))
        + ("expires_at".len() + number_bytes(10))
        + ("blob".len() + blob_len)
}

/// Write units a standard table charges for an item of `bytes`: one per started KiB.
pub fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}
