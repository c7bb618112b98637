//! A steady stream of sample lines for the allocation tests (`alloc.rs`,
//! `alloc_batch.rs`: separate binaries, because the allocation counter is process-wide).

/// The stream's first timestamp, ms.
pub const T0: i64 = 1_750_593_600_000;

/// `cars` cars at 10 Hz for `ticks` ticks, one lap per 50 s, each car 0.7 s behind the
/// one before; made up front so that only the engine runs while counting.
pub fn samples(cars: u32, ticks: i64) -> impl Iterator<Item = String> {
    (0..ticks).flat_map(move |tick| {
        (0..cars).map(move |c| {
            let ts = T0 + tick * 100;
            sample(c, ts, (tick as f64 * 100.0 + c as f64 * 700.0) / 50_000.0)
        })
    })
}

fn sample(car: u32, ts: i64, lap_pos: f64) -> String {
    format!(
        r#"{{"v":1,"race_id":"a","car":"{car}","ts":{ts},"lap":{},"lap_frac":{:.4},"speed_mph":170.5,"rpm":8900,"throttle_pct":97.5,"brake_psi":0,"gear":4,"gap_ahead_s":0.4,"in_pit":false}}"#,
        lap_pos.floor() as u32,
        lap_pos.fract()
    )
}
