//! A car item as a store keeps it: the state, applied ids and outbox as one compact
//! binary blob (postcard, a format byte first), and the size that item is charged at.
//!
//! The DynamoDB adapter writes exactly this blob; the in-memory store measures it
//! without encoding it, so both report the same item size and write units.

use burnbar_core::FuelUpdate;
use burnbar_core::car::{CarState, CarStateV3};

use crate::ports::{CarItem, PortError};

/// Format of the car blob; a blob of another format is refused, never guessed at.
/// Postcard is not self-describing, so any change to the layout of `CarState` (or the
/// applied ids and outbox) must bump it. 2: the fuel cell learns the car's efficiency
/// (`Fuel::stint_eff`, `start_full`, `learn_n`, `learn_sum`). 3: it also learns from
/// fills sized from standing time (`start_at_cap`, `fill_prec`, `fill_sum`) and keeps
/// what the car burned since it left its box (`since_box`). 4: the car keeps whether it
/// is in its final window, and a queued `pit_out` its `tires` and `box_s`.
///
/// The reader keeps the previous format ([`CarStateV3`]), so that a deploy in the
/// middle of a race reads what the deployed version stored; the fixtures
/// `tests/fixtures/car-blob-v*.hex` pin each layout.
pub const BLOB_FORMAT: u8 = 4;

/// Encodes a car item's state, applied ids and outbox.
pub fn encode_blob(item: &CarItem) -> Result<Vec<u8>, PortError> {
    let mut out = vec![BLOB_FORMAT];
    let body = postcard::to_stdvec(&(&item.state, &item.applied, &item.outbox))
        .map_err(|e| PortError::Permanent(format!("car state does not encode: {e}")))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes [`encode_blob`]'s output.
pub fn decode_blob(blob: &[u8], version: u64) -> Result<CarItem, PortError> {
    match blob.split_first() {
        Some((&BLOB_FORMAT, body)) => {
            let (state, applied, outbox): (CarState, Vec<String>, Vec<FuelUpdate>) =
                postcard::from_bytes(body).map_err(|e| {
                    PortError::Permanent(format!("stored car state does not decode: {e}"))
                })?;
            Ok(CarItem {
                state,
                applied,
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
                outbox,
                version,
            })
        }
        Some((f, _)) => Err(PortError::Permanent(format!(
            "stored car state has format {f}, this build reads 3 and {BLOB_FORMAT}"
        ))),
        None => Err(PortError::Permanent("stored car state is empty".into())),
    }
}

/// The length of [`encode_blob`]'s output, counted without building it.
pub fn blob_len(item: &CarItem) -> Result<usize, PortError> {
    postcard::experimental::serialized_size(&(&item.state, &item.applied, &item.outbox))
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
