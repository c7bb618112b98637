//! What a message is and where it goes: the core's decoder decides sample or event.
//!
//! The bridge forwards the bytes it received, unchanged; it decodes only to learn the
//! kind, the partition key (car for samples, race for events) and a sample's channels,
//! and to refuse what the processor would reject anyway before it costs a Kinesis record.
//! Reusing `burnbar_core::decode_line` keeps one definition of "valid".

use burnbar_core::contract::Channels;
use burnbar_core::race::EventRaces;
use burnbar_core::{CarId, Record, Reject};

/// A decoded message, reduced to what routing and sampling need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// A sample: partition key `car`; `channels` is the set of channels it carries (a
    /// bit set, `Channels::CHANNEL_MASK`), which sampling treats as its channel group.
    Sample { car: CarId, ts: i64, channels: u16 },
    /// A race-control event: partition key `race`.
    Event { race: String, kind: &'static str },
}

/// Remembers the race of the latest `race_start`, which is the race of an event that
/// names none (`telemetry-v1`, "Which race").
#[derive(Debug, Default, Clone)]
pub struct Router {
    races: EventRaces,
}

impl Router {
    /// Decodes one message (one NDJSON record; a trailing newline is allowed). A message
    /// the contract rejects comes back as the core's [`Reject`], which names the reason.
    pub fn route(&mut self, payload: &[u8]) -> Result<Routed, Reject> {
        let line = trim_newline(payload);
        match burnbar_core::decode::decode_line(line)? {
            Record::Sample(s) => Ok(Routed::Sample {
                car: s.car,
                ts: s.ts,
                channels: s.ch.present & Channels::CHANNEL_MASK,
            }),
            Record::Event(e) => {
                let race = self.races.race_of(&e.kind, e.race_id);
                Ok(Routed::Event {
                    race,
                    kind: e.kind.name(),
                })
            }
        }
    }
}

/// The message without one trailing `\n` or `\r\n`.
pub fn trim_newline(payload: &[u8]) -> &[u8] {
    let p = payload.strip_suffix(b"\n").unwrap_or(payload);
    p.strip_suffix(b"\r").unwrap_or(p)
}

/// A channel group as text, for counters by car and channel: `rpm+throttle_pct`.
pub fn channel_names(channels: u16) -> String {
    const NAMES: [(u16, &str); 9] = [
        (Channels::LAP, "lap"),
        (Channels::LAP_FRAC, "lap_frac"),
        (Channels::SPEED, "speed_mph"),
        (Channels::RPM, "rpm"),
        (Channels::THROTTLE, "throttle_pct"),
        (Channels::BRAKE, "brake_psi"),
        (Channels::GEAR, "gear"),
        (Channels::GAP, "gap_ahead_s"),
        (Channels::IN_PIT, "in_pit"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| channels & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    names.join("+")
}

#[cfg(test)]
mod tests {
    use super::*;
    use burnbar_core::RejectCode;

    #[test]
    fn samples_and_events_get_their_keys() {
        let mut r = Router::default();
        let s = r
            .route(
                b"{\"v\":1,\"car\":\"24\",\"ts\":1750593600000,\"rpm\":9000,\"throttle_pct\":80}\n",
            )
            .unwrap();
        let Routed::Sample { car, ts, channels } = s else {
            panic!("{s:?}")
        };
        assert_eq!(car.as_str(), "24");
        assert_eq!(ts, 1_750_593_600_000);
        assert_eq!(channel_names(channels), "rpm+throttle_pct");

        // Before any race_start an event without race_id belongs to `unknown`.
        let e = r
            .route(b"{\"v\":1,\"kind\":\"flag\",\"ts\":1750593600000,\"flag\":\"yellow\"}")
            .unwrap();
        assert_eq!(
            e,
            Routed::Event {
                race: "unknown".into(),
                kind: "flag"
            }
        );
        r.route(b"{\"v\":1,\"kind\":\"race_start\",\"ts\":1750593600000,\"race_id\":\"r9\",\"track\":\"pocono\"}")
            .unwrap();
        let e = r
            .route(b"{\"v\":1,\"kind\":\"pit_in\",\"ts\":1750593601000,\"car\":\"7\"}")
            .unwrap();
        assert_eq!(
            e,
            Routed::Event {
                race: "r9".into(),
                kind: "pit_in"
            }
        );
    }

    #[test]
    fn malformed_messages_are_refused_with_the_cores_reason() {
        let mut r = Router::default();
        let e = r.route(b"{\"v\":1,\"car\":").unwrap_err();
        assert_eq!(e.code, RejectCode::InvalidJson);
        let e = r
            .route(b"{\"v\":1,\"car\":\"24\",\"ts\":1750593600000}")
            .unwrap_err();
        assert_eq!(e.code, RejectCode::EmptySample);
        // Two records in one message are not one record.
        let e = r
            .route(b"{\"v\":1,\"car\":\"1\",\"ts\":1750593600000,\"rpm\":1}\n{\"v\":1,\"car\":\"1\",\"ts\":1750593600001,\"rpm\":1}")
            .unwrap_err();
        assert_eq!(e.code, RejectCode::InvalidJson);
    }
}
