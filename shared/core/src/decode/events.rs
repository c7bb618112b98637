//! The event-only part of validation: a record whose `kind` names an event, its fields
//! parsed from their raw JSON and held to the contract's limits. A job of its own beside
//! the rules every record and every sample follow (`decode.rs`), which the fast path
//! shares; apart, each file stays readable (and under the 750-line limit).

use super::*;

impl<'a> Fields<'a> {
    pub(super) fn event(
        &self,
        ev: &EventFields<'a>,
        kind: &str,
        ts: i64,
        lap: Option<u16>,
    ) -> Result<Event, Reject> {
        let kind = match kind {
            "race_start" => EventKind::RaceStart(self.race_start(ev)?),
            "flag" => EventKind::Flag {
                flag: ev.flag()?,
                lap,
            },
            "pit_in" => EventKind::PitIn {
                car: self.event_car()?,
                lap,
            },
            "pit_out" => self.pit_out(ev, lap)?,
            "incident" => EventKind::Incident {
                cars: ev.incident_cars()?,
                lap,
            },
            "stage_end" => {
                let stage: i64 = event_field("stage", ev.stage)?.ok_or_else(|| missing("stage"))?;
                EventKind::StageEnd {
                    stage: range("stage", stage, 1, 10)? as u32,
                    lap,
                }
            }
            "car_out" => {
                let car = self.event_car()?;
                let reason: Option<String> = event_field("reason", ev.reason)?;
                max_chars("reason", reason.as_deref(), 200)?;
                EventKind::CarOut { car, reason }
            }
            other => {
                return Err(Reject::new(
                    RejectCode::UnknownKind,
                    Some("kind"),
                    format!("{other:?} is not a known record kind"),
                ));
            }
        };
        Ok(Event {
            ts,
            race_id: self.race_id.as_deref().map(str::to_owned),
            kind,
        })
    }

    fn event_car(&self) -> Result<CarId, Reject> {
        car_id("car", self.car.as_deref().ok_or_else(|| missing("car"))?)
    }

    /// A `race_start`, within the contract's limits (`telemetry-v1`, "Limits"): a
    /// `track` of at most 64 characters, driver names of at most 100, at most 200
    /// `cars` and `drivers` (the RaceState that carries them rides every publish).
    fn race_start(&self, ev: &EventFields<'a>) -> Result<RaceStart, Reject> {
        let race_id = self
            .race_id
            .as_deref()
            .ok_or_else(|| missing("race_id"))?
            .to_owned();
        let track: String = event_field("track", ev.track)?.ok_or_else(|| missing("track"))?;
        if track.is_empty() {
            return Err(Reject::new(
                RejectCode::OutOfRange,
                Some("track"),
                "must not be empty",
            ));
        }
        max_chars("track", Some(&track), MAX_TRACK_CHARS)?;
        let length: Option<f64> = event_field("track_length_mi", ev.track_length_mi)?;
        let length = open_closed("track_length_mi", length, 10.0)?;
        let laps: Option<i64> = event_field("scheduled_laps", ev.scheduled_laps)?;
        let laps = laps
            .map(|l| range("scheduled_laps", l, 1, 2000).map(|l| l as u32))
            .transpose()?;
        let cap: Option<f64> = event_field("fuel_capacity_gal", ev.fuel_capacity_gal)?;
        let cap = open_closed("fuel_capacity_gal", cap, 100.0)?;
        let cars: Vec<String> = event_field("cars", ev.cars)?.unwrap_or_default();
        max_items("cars", cars.len())?;
        let cars = cars
            .iter()
            .map(|c| car_id("cars", c))
            .collect::<Result<Vec<_>, _>>()?;
        let drivers: std::collections::BTreeMap<String, Option<String>> =
            event_field("drivers", ev.drivers)?.unwrap_or_default();
        max_items("drivers", drivers.len())?;
        let mut named = Vec::with_capacity(drivers.len());
        for (car, name) in drivers {
            let car = car_id("drivers", &car)?;
            if let Some(name) = name {
                max_chars("drivers", Some(&name), MAX_DRIVER_CHARS)?;
                named.push((car, name));
            }
        }
        Ok(RaceStart {
            race_id,
            track,
            track_length_mi: length,
            scheduled_laps: laps,
            fuel_capacity_gal: cap,
            cars,
            drivers: named,
        })
    }

    fn pit_out(&self, ev: &EventFields<'a>, lap: Option<u16>) -> Result<EventKind, Reject> {
        let car = self.event_car()?;
        let added: Option<f64> = event_field("fuel_added_gal", ev.fuel_added_gal)?;
        let added = finite_range("fuel_added_gal", added, 0.0, 100.0)?;
        let full: Option<bool> = event_field("full", ev.full)?;
        let tires: Option<i64> = event_field("tires", ev.tires)?;
        let tires = tires
            .map(|t| range("tires", t, 0, 4).map(|t| t as u8))
            .transpose()?;
        let box_s: Option<f64> = event_field("box_s", ev.box_s)?;
        let box_s = finite_range("box_s", box_s, 0.0, 3600.0)?;
        Ok(EventKind::PitOut {
            car,
            lap,
            fuel_added_gal: added,
            full,
            tires,
            box_s,
        })
    }
}

impl EventFields<'_> {
    fn flag(&self) -> Result<Flag, Reject> {
        let name: String = event_field("flag", self.flag)?.ok_or_else(|| missing("flag"))?;
        Flag::parse(&name).ok_or_else(|| {
            Reject::new(
                RejectCode::InvalidValue,
                Some("flag"),
                format!("{name:?} is not one of green, yellow, red, white, checkered"),
            )
        })
    }

    fn incident_cars(&self) -> Result<Vec<CarId>, Reject> {
        let cars: Vec<String> = event_field("cars", self.cars)?.ok_or_else(|| missing("cars"))?;
        if cars.is_empty() {
            return Err(Reject::new(
                RejectCode::OutOfRange,
                Some("cars"),
                "an incident names at least one car",
            ));
        }
        max_items("cars", cars.len())?;
        cars.iter().map(|c| car_id("cars", c)).collect()
    }
}

/// Refuses a text longer than `max` characters, naming the field.
fn max_chars(field: &'static str, s: Option<&str>, max: usize) -> Result<(), Reject> {
    match s {
        Some(s) if s.chars().count() > max => Err(Reject::new(
            RejectCode::OutOfRange,
            Some(field),
            format!("longer than {max} characters"),
        )),
        _ => Ok(()),
    }
}

/// Refuses a list of more than [`MAX_LISTED_CARS`] entries, naming the field.
fn max_items(field: &'static str, n: usize) -> Result<(), Reject> {
    if n > MAX_LISTED_CARS {
        return Err(Reject::new(
            RejectCode::OutOfRange,
            Some(field),
            format!("{n} entries, more than {MAX_LISTED_CARS}"),
        ));
    }
    Ok(())
}

/// A number in `0 < x <= max`, or absent.
fn open_closed(field: &'static str, v: Option<f64>, max: f64) -> Result<Option<f64>, Reject> {
    match v {
        Some(x) if !(x > 0.0 && x <= max) => Err(Reject::new(
            RejectCode::OutOfRange,
            Some(field),
            format!("{x} is outside 0 < x <= {max}"),
        )),
        v => Ok(v),
    }
}
