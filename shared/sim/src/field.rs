//! The field: car numbers, fictional drivers, and how each car differs from the others.
//!
//! Each car draws (from the seed's setup stream) its corner pace (up to 1.5 % slower than
//! the best), its engine (power ±0.5 %), its fuel use (sd 2 %: the spread the estimator's
//! calibration has to live with), its crew's fill rate (1.5 gal/s, sd 3 %) and tyre speed
//! (sd 4 % on the time of a change, from a stream of its own so that the rest of the
//! field is what it was before crews had one), a style
//! (20 % savers, 60 % neutral, 20 % pushers), the team's error on its own fuel numbers
//! (sd 0.8 %), the laps of fuel it keeps in hand (0.5 to 2), and how much saving it will try. In
//! about a third of the races one driver is a gambler who stays out on fuel he may not have.

use crate::car::{CarParams, FILL_RATE_GPS, Style};
use crate::track::TrackCtx;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Numbers a Cup field carries, most familiar first; a bigger field takes the others.
const NUMBERS: [&str; 40] = [
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "14", "16", "17", "19", "20",
    "21", "22", "23", "24", "31", "33", "34", "35", "38", "41", "42", "43", "45", "47", "48", "51",
    "54", "60", "66", "71", "77", "88", "99",
];

const FIRST: [&str; 40] = [
    "Wade", "Tucker", "Garrett", "Hollis", "Jace", "Reid", "Shane", "Colby", "Dawson", "Emmett",
    "Flint", "Grady", "Harlan", "Ivan", "Jonah", "Knox", "Lyle", "Marlow", "Nolan", "Otis",
    "Porter", "Quinn", "Rhett", "Silas", "Tate", "Vance", "Walker", "Wyatt", "Boone", "Casey",
    "Dane", "Ellis", "Ford", "Gage", "Heath", "Judd", "Kip", "Lane", "Monroe", "Ned",
];

const LAST: [&str; 40] = [
    "Hollister",
    "Pruitt",
    "Kessler",
    "Dunmore",
    "Ashby",
    "Calloway",
    "Renfro",
    "Whitaker",
    "Bramlett",
    "Ostrander",
    "McCrary",
    "Tillman",
    "Haskins",
    "Pickard",
    "Lundy",
    "Varner",
    "Castell",
    "Deering",
    "Eastwick",
    "Fairley",
    "Gantt",
    "Holcomb",
    "Ingram",
    "Jessup",
    "Kinard",
    "Lockett",
    "Merritt",
    "Norwood",
    "Odom",
    "Pettus",
    "Rayburn",
    "Sellers",
    "Tolliver",
    "Upchurch",
    "Vickery",
    "Wofford",
    "Yates",
    "Braswell",
    "Crump",
    "Dillard",
];

/// The numbers of an `n`-car field (`n` ≤ 99), in the order they were assigned.
pub fn car_numbers(n: usize) -> Vec<String> {
    let mut out: Vec<String> = NUMBERS.iter().map(|s| s.to_string()).collect();
    for k in 0..100 {
        let s = k.to_string();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.push("00".into());
    out.truncate(n);
    out
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample::<f64, _>(StandardNormal)
}

/// Draws the field: `numbers[i]` gets `params[i]`; `crews` draws the pit crews' tyre speed.
pub(crate) fn draw(
    ctx: &TrackCtx,
    numbers: &[String],
    rng: &mut ChaCha8Rng,
    crews: &mut ChaCha8Rng,
) -> Vec<CarParams> {
    let n = numbers.len();
    let mut names: Vec<String> = Vec::with_capacity(n);
    while names.len() < n {
        let name = format!(
            "{} {}",
            FIRST[rng.random_range(0..FIRST.len())],
            LAST[rng.random_range(0..LAST.len())]
        );
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let gambler = if rng.random::<f64>() < 0.35 {
        Some(rng.random_range(0..n))
    } else {
        None
    };
    let mut params: Vec<CarParams> = numbers
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, (number, driver))| {
            let u = rng.random::<f64>();
            let style = if u < 0.2 {
                Style::Saver
            } else if u < 0.8 {
                Style::Neutral
            } else {
                Style::Pusher
            };
            CarParams {
                number: number.clone(),
                driver,
                pace: 1.0 - 0.015 * rng.random::<f64>(),
                power_mult: 1.0 + (0.005 * normal(rng)).clamp(-0.015, 0.015),
                fuel_mult: 1.0 + (0.02 * normal(rng)).clamp(-0.05, 0.05),
                fill_rate: FILL_RATE_GPS * (1.0 + (0.03 * normal(rng)).clamp(-0.08, 0.08)),
                tire_mult: 1.0 + (0.04 * normal(crews)).clamp(-0.1, 0.1),
                style,
                team_bias: (0.008 * normal(rng)).clamp(-0.02, 0.02),
                margin_laps: 0.5 + 1.5 * rng.random::<f64>(),
                save_cap: if style == Style::Saver {
                    0.15
                } else {
                    0.08 + 0.05 * rng.random::<f64>()
                },
                gambler: gambler == Some(i),
                box_m: 0.0,
                grid: 0,
            }
        })
        .collect();
    // Qualifying: mostly pace, a little luck.
    let mut order: Vec<(f64, usize)> = params
        .iter()
        .enumerate()
        .map(|(i, p)| (p.pace + p.power_mult * 0.3 + 0.002 * normal(rng), i))
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let span = (n.max(2) - 1) as f64;
    for (grid, &(_, i)) in order.iter().enumerate() {
        params[i].grid = grid;
        // Better qualifiers pick boxes nearer the exit.
        params[i].box_m = ctx.pit_len_m * (0.88 - 0.76 * grid as f64 / span);
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_distinct_valid_and_enough_for_99_cars() {
        let n = car_numbers(99);
        assert_eq!(n.len(), 99);
        let mut d = n.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), 99);
        assert!(n.iter().all(|s| (1..=4).contains(&s.len())
            && s.chars().all(|c| c.is_ascii_alphanumeric())));
        assert_eq!(&car_numbers(3), &["1", "2", "3"]);
    }
}
