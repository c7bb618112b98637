//! Stable keys of race-control events: the same event delivered again (under any sequence
//! number, with other whitespace or key order) has the same key, two different events at
//! one instant do not, and adding an optional field to the contract re-keys nothing.
//!
//! Keys are persisted (the pipeline stores events under them and keeps, in each car's
//! item, the ids of the events applied to it), so their format is pinned by committed
//! fixtures (`shared/pipeline/tests/fixtures/event-ids-v*.txt`), and the ids the previous
//! format stored stay recognisable ([`legacy_id`]).

use std::collections::BTreeMap;

use crate::contract::{CarId, Event, EventKind};

/// Format of [`EventKey`] and its [`id`](EventKey::id). A change to any event's key must
/// bump it and keep the previous format readable ([`legacy_id`]). 1: a hash of the
/// event's `Debug` text (renaming a field re-keyed every event). 2: a hash of its
/// canonical form ([`canonical`]).
pub const EVENT_ID_FORMAT: u32 = 2;

/// An event's key: its time and a 64-bit FNV-1a hash of its [`canonical`] form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey {
    pub ts: i64,
    pub hash: u64,
}

impl EventKey {
    pub fn of(e: &Event) -> EventKey {
        EventKey {
            ts: e.ts,
            hash: fnv1a(canonical(&e.kind).as_bytes()),
        }
    }

    /// The id events are stored under: the time first (zero-padded, so that ids sort by
    /// time), then the hash.
    pub fn id(&self) -> String {
        format!("{:015}#{:016x}", self.ts, self.hash)
    }
}

/// FNV-1a, 64 bits: fixed by its definition, unlike `DefaultHasher`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The canonical form of what an event says: a JSON object of its `kind` and fields, keys
/// in byte order, absent and null fields left out, integers as integers and other
/// numbers as JSON writes them (the shortest text that reads back as the same value), the cars of an incident sorted.
/// `v`, `ts` and `race_id` are not in it: the time is the key's other half, and events
/// are stored per race.
pub fn canonical(kind: &EventKind) -> String {
    let mut o = Obj::default();
    match kind {
        EventKind::RaceStart(rs) => {
            let mut cars = rs.cars.clone();
            cars.sort();
            let mut drivers = rs.drivers.clone();
            drivers.sort();
            o.list("cars", cars.iter().map(|c| json_str(c.as_str())));
            let drivers: Vec<String> = drivers
                .iter()
                .map(|(c, n)| format!("{}:{}", json_str(c.as_str()), json_str(n)))
                .collect();
            o.raw("drivers", format!("{{{}}}", drivers.join(",")));
            o.num("fuel_capacity_gal", rs.fuel_capacity_gal);
            o.str("race_id", Some(&rs.race_id));
            o.int("scheduled_laps", rs.scheduled_laps.map(i64::from));
            o.str("track", Some(&rs.track));
            o.num("track_length_mi", rs.track_length_mi);
        }
        EventKind::Flag { flag, lap } => {
            o.str("flag", Some(flag.as_str()));
            o.int("lap", lap.map(i64::from));
        }
        EventKind::PitIn { car, lap } => {
            o.car("car", *car);
            o.int("lap", lap.map(i64::from));
        }
        EventKind::PitOut {
            car,
            lap,
            fuel_added_gal,
            full,
            tires,
            box_s,
        } => {
            o.num("box_s", *box_s);
            o.car("car", *car);
            o.num("fuel_added_gal", *fuel_added_gal);
            o.bool("full", *full);
            o.int("lap", lap.map(i64::from));
            o.int("tires", tires.map(i64::from));
        }
        EventKind::Incident { cars, lap } => {
            let mut cars = cars.clone();
            cars.sort();
            o.list("cars", cars.iter().map(|c| json_str(c.as_str())));
            o.int("lap", lap.map(i64::from));
        }
        EventKind::StageEnd { stage, lap } => {
            o.int("lap", lap.map(i64::from));
            o.int("stage", Some(i64::from(*stage)));
        }
        EventKind::CarOut { car, reason } => {
            o.car("car", *car);
            o.str("reason", reason.as_deref());
        }
    }
    o.str("kind", Some(kind.name()));
    o.finish()
}

/// The id format 1 stored for `e`: FNV-1a over the `Debug` text of the event's kind as
/// that version's types printed it, written out here so that later changes to the types
/// do not change it. Read while races stored by that version may still be running (a
/// deploy in the middle of a race); the fixture `event-ids-v1.txt` pins it.
pub fn legacy_id(e: &Event) -> String {
    let text = match &e.kind {
        EventKind::RaceStart(rs) => format!(
            "RaceStart(RaceStart {{ race_id: {:?}, track: {:?}, track_length_mi: {:?}, \
             scheduled_laps: {:?}, fuel_capacity_gal: {:?}, cars: [{}], drivers: [{}] }})",
            rs.race_id,
            rs.track,
            rs.track_length_mi,
            rs.scheduled_laps,
            rs.fuel_capacity_gal,
            rs.cars.iter().map(car_debug).collect::<Vec<_>>().join(", "),
            rs.drivers
                .iter()
                .map(|(c, n)| format!("({}, {n:?})", car_debug(c)))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        EventKind::Flag { flag, lap } => format!("Flag {{ flag: {}, lap: {lap:?} }}", {
            let s = flag.as_str();
            let mut t = s[..1].to_uppercase();
            t.push_str(&s[1..]);
            t
        }),
        EventKind::PitIn { car, lap } => {
            format!("PitIn {{ car: {}, lap: {lap:?} }}", car_debug(car))
        }
        // Format 1 did not read `tires` and `box_s`: they are not in its text.
        EventKind::PitOut {
            car,
            lap,
            fuel_added_gal,
            full,
            ..
        } => format!(
            "PitOut {{ car: {}, lap: {lap:?}, fuel_added_gal: {fuel_added_gal:?}, full: {full:?} }}",
            car_debug(car)
        ),
        EventKind::Incident { cars, lap } => format!(
            "Incident {{ cars: [{}], lap: {lap:?} }}",
            cars.iter().map(car_debug).collect::<Vec<_>>().join(", ")
        ),
        EventKind::StageEnd { stage, lap } => {
            format!("StageEnd {{ stage: {stage}, lap: {lap:?} }}")
        }
        EventKind::CarOut { car, reason } => {
            format!("CarOut {{ car: {}, reason: {reason:?} }}", car_debug(car))
        }
    };
    EventKey {
        ts: e.ts,
        hash: fnv1a(text.as_bytes()),
    }
    .id()
}

fn car_debug(c: &CarId) -> String {
    format!("CarId({})", c.as_str())
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// A JSON object built field by field and written with its keys in byte order, leaving
/// out absent values.
#[derive(Default)]
struct Obj(BTreeMap<&'static str, String>);

impl Obj {
    fn raw(&mut self, key: &'static str, value: String) {
        self.0.insert(key, value);
    }

    fn str(&mut self, key: &'static str, v: Option<&str>) {
        if let Some(v) = v {
            self.raw(key, json_str(v));
        }
    }

    fn car(&mut self, key: &'static str, c: CarId) {
        self.raw(key, json_str(c.as_str()));
    }

    fn num(&mut self, key: &'static str, v: Option<f64>) {
        if let Some(v) = v {
            self.raw(key, serde_json::to_string(&v).expect("a finite number"));
        }
    }

    fn int(&mut self, key: &'static str, v: Option<i64>) {
        if let Some(v) = v {
            self.raw(key, v.to_string());
        }
    }

    fn bool(&mut self, key: &'static str, v: Option<bool>) {
        if let Some(v) = v {
            self.raw(key, v.to_string());
        }
    }

    fn list(&mut self, key: &'static str, items: impl Iterator<Item = String>) {
        self.raw(key, format!("[{}]", items.collect::<Vec<_>>().join(",")));
    }

    fn finish(self) -> String {
        let fields: Vec<String> = self.0.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", fields.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Record;
    use crate::decode::decode_line;

    fn event(line: &str) -> Event {
        match decode_line(line.as_bytes()) {
            Ok(Record::Event(e)) => e,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn the_same_event_in_other_words_has_the_same_key() {
        let a = event(
            r#"{"v":1,"kind":"pit_out","ts":1750593600000,"car":"5","lap":3,"fuel_added_gal":12.50,"full":true}"#,
        );
        let b = event(
            r#"{ "full" : true, "fuel_added_gal": 12.5, "lap": 3, "car": "5", "ts": 1750593600000, "kind": "pit_out", "v": 1, "race_id": "x", "extra": [1] }"#,
        );
        assert_eq!(EventKey::of(&a), EventKey::of(&b));
        assert_eq!(
            canonical(&a.kind),
            r#"{"car":"5","fuel_added_gal":12.5,"full":true,"kind":"pit_out","lap":3}"#
        );
    }

    #[test]
    fn null_and_absent_fields_key_alike_and_other_values_differ() {
        let absent = event(r#"{"v":1,"kind":"pit_out","ts":1750593600000,"car":"5"}"#);
        let null = event(
            r#"{"v":1,"kind":"pit_out","ts":1750593600000,"car":"5","fuel_added_gal":null,"full":null,"lap":null}"#,
        );
        assert_eq!(EventKey::of(&absent), EventKey::of(&null));
        for other in [
            r#"{"v":1,"kind":"pit_out","ts":1750593600000,"car":"50"}"#,
            r#"{"v":1,"kind":"pit_out","ts":1750593600001,"car":"5"}"#,
            r#"{"v":1,"kind":"pit_in","ts":1750593600000,"car":"5"}"#,
            r#"{"v":1,"kind":"pit_out","ts":1750593600000,"car":"5","full":false}"#,
        ] {
            assert_ne!(
                EventKey::of(&absent),
                EventKey::of(&event(other)),
                "{other}"
            );
        }
    }

    #[test]
    fn the_legacy_id_is_the_debug_text_the_previous_types_printed() {
        // For the kinds whose types have not changed since format 1, the hand-written
        // text is exactly today's `Debug`.
        for line in [
            r#"{"v":1,"kind":"flag","ts":1750593600000,"flag":"checkered","lap":160}"#,
            r#"{"v":1,"kind":"pit_in","ts":1750593600000,"car":"00"}"#,
            r#"{"v":1,"kind":"incident","ts":1750593600000,"cars":["1","20"],"lap":4}"#,
            r#"{"v":1,"kind":"stage_end","ts":1750593600000,"stage":2}"#,
            r#"{"v":1,"kind":"car_out","ts":1750593600000,"car":"3","reason":"a \"b\" é"}"#,
            r#"{"v":1,"kind":"race_start","ts":1750593600000,"race_id":"r","track":"iowa","cars":["1"],"drivers":{"1":"A"}}"#,
        ] {
            let e = event(line);
            let debug = EventKey {
                ts: e.ts,
                hash: fnv1a(format!("{:?}", e.kind).as_bytes()),
            };
            assert_eq!(legacy_id(&e), debug.id(), "{line}");
        }
    }
}
