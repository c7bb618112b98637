//! Flag changes and stage ends.
//!
//! A flag state is observed at a race time, from the flag data (exact) or from a
//! snapshot (its race time). A `flag` event is emitted when the observed state differs
//! from the last one acted on and is not older than it, so a state seen again, a
//! snapshot read twice or late, or a flag-data entry that a snapshot already showed,
//! emits nothing. A change that happened between two snapshots is stamped with the
//! later snapshot's race time, unless the flag data gives it. The feed's finish (`4`)
//! and its not-active state after the start (`9`) are both `checkered`; each emits once,
//! so the race's last flag carries the leader's final lap.
//!
//! A stage end is emitted once per stage: from the flag data's `Stage N Conclusion`
//! (exact), else when a snapshot's stage number has moved past it (stamped with that
//! snapshot's race time; its lap from the stage's `finish_at_lap` while it ran, or for
//! the stage just before the current one, the current stage's `finish_at_lap` less its
//! `laps_in_stage`).

use super::Ctx;
use super::race::{RaceConv, lap_u32};
use crate::codes::FeedFlag;
use crate::event::Kind;
use crate::wire::{Snapshot, ms};

/// Stages a race can have (the contract's limit).
const MAX_STAGE: i64 = 10;

impl RaceConv {
    /// Acts on every flag-data entry not yet read, up to the newest snapshot's race time
    /// plus the lead the settings allow.
    pub fn apply_flag_data(&mut self, ctx: &mut Ctx<'_>) {
        if self.anchor.is_none() {
            return;
        }
        let upto = self.newest_ms + ctx.cfg.flag_lead_ms;
        for f in ctx.flag_data.iter() {
            let t = ms(f.elapsed_time);
            if t > upto {
                break;
            }
            if !self.flags_read.insert((t, f.flag_state)) {
                continue;
            }
            let seen = Seen::FlagData(f.comment.as_deref());
            self.observe_flag(t, f.flag_state, f.lap_number, seen, ctx);
        }
    }

    /// One observation of the flag state `code` at race time `t` with the leader on
    /// `lap`.
    pub(super) fn observe_flag(
        &mut self,
        t: i64,
        code: i64,
        lap: i64,
        seen: Seen<'_>,
        ctx: &mut Ctx<'_>,
    ) {
        let lap = lap_u32(lap);
        if let Seen::FlagData(Some(comment)) = seen
            && let Some(stage) = stage_conclusion(comment)
        {
            self.stage_end(stage, t, lap, ctx);
        }
        let Some(state) = FeedFlag::from_code(code) else {
            *ctx.counters.unknown_flag_codes.entry(code).or_default() += 1;
            if self.reported.insert(('f', code)) {
                ctx.reports.push(format!(
                    "race {}: unknown flag code {code} at race time {:.3} s: no flag event \
                     (the flag in force stays)",
                    self.race_id,
                    t as f64 / 1000.0
                ));
            }
            return;
        };
        let Some(flag) = state.contract() else {
            return;
        };
        if state == FeedFlag::Cold && t == 0 {
            // Not active before the race: nothing has happened.
            return;
        }
        // A snapshot taken at the very time of a change the flag data gave shows the
        // state before it: only a later one is news.
        let older = |last_t: i64| match seen {
            Seen::Snapshot => t <= last_t,
            Seen::FlagData(_) => t < last_t,
        };
        if let Some((last_t, last_code)) = self.last_flag
            && (older(last_t) || last_code == code)
        {
            return;
        }
        self.last_flag = Some((t, code));
        self.emit(
            ctx,
            t,
            Kind::Flag {
                flag,
                lap: lap.unwrap_or(0),
            },
        );
    }

    /// Stage ends a snapshot's stage number implies.
    pub(super) fn stages(&mut self, snap: &Snapshot, t: i64, ctx: &mut Ctx<'_>) {
        let Some(st) = &snap.stage else { return };
        if !(1..=MAX_STAGE).contains(&st.stage_num) {
            return;
        }
        let n = st.stage_num as u32;
        if let Some(f) = st.finish_at_lap.and_then(lap_u32) {
            self.stage_finish.insert(n, f);
        }
        let before_current = match (st.finish_at_lap, st.laps_in_stage) {
            (Some(f), Some(l)) if l > 0 => lap_u32(f - l),
            _ => None,
        };
        for s in 1..n {
            let lap = self.stage_finish.get(&s).copied().or(if s + 1 == n {
                before_current
            } else {
                None
            });
            self.stage_end(s, t, lap, ctx);
        }
    }

    fn stage_end(&mut self, stage: u32, t: i64, lap: Option<u32>, ctx: &mut Ctx<'_>) {
        if (1..=MAX_STAGE as u32).contains(&stage) && self.stages_ended.insert(stage) {
            self.emit(ctx, t, Kind::StageEnd { stage, lap });
        }
    }
}

/// Where a flag state was seen.
#[derive(Debug, Clone, Copy)]
pub(super) enum Seen<'a> {
    Snapshot,
    /// A flag-data entry, with race control's comment.
    FlagData(Option<&'a str>),
}

/// `Stage N Conclusion` (race control's words at a stage's end) → N.
fn stage_conclusion(comment: &str) -> Option<u32> {
    let mut words = comment.split_whitespace();
    let (a, n, b) = (words.next()?, words.next()?, words.next()?);
    (a.eq_ignore_ascii_case("stage")
        && b.eq_ignore_ascii_case("conclusion")
        && words.next().is_none())
    .then(|| n.parse().ok())
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_race_controls_stage_words_end_a_stage() {
        assert_eq!(stage_conclusion("Stage 2 Conclusion"), Some(2));
        assert_eq!(stage_conclusion("stage 1 conclusion"), Some(1));
        assert_eq!(stage_conclusion("No. 1 Spin Turn 2"), None);
        assert_eq!(stage_conclusion("Stage 2 Conclusion and debris"), None);
        assert_eq!(stage_conclusion("Stage two Conclusion"), None);
    }
}
