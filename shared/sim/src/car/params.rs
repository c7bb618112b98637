//! What a car brings to a race and keeps all through it: number, driver, pace, engine,
//! fuel use, crew and the team's habits (drawn in `field.rs`).

/// How a driver races by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Saver,
    Neutral,
    Pusher,
}

/// What does not change during a race.
#[derive(Debug, Clone)]
pub(crate) struct CarParams {
    pub number: String,
    pub driver: String,
    /// Corner speed relative to the reference (≤ 1).
    pub pace: f64,
    /// Engine power relative to the package's.
    pub power_mult: f64,
    /// Fuel used relative to the model engine (1/efficiency): the car's spread.
    pub fuel_mult: f64,
    /// The crew's fill rate, gal/s.
    pub fill_rate: f64,
    /// The crew's tyre change time relative to an average crew's (below 1: quicker).
    pub tire_mult: f64,
    pub style: Style,
    /// The team's error on its own fuel burn (negative: thinks it burns less).
    pub team_bias: f64,
    /// Laps of fuel the team keeps in hand before a green stop.
    pub margin_laps: f64,
    /// Most saving (share of fuel per lap) the driver will try for.
    pub save_cap: f64,
    /// Stays out on fuel it may not have.
    pub gambler: bool,
    /// The pit box, m past the pit road entry.
    pub box_m: f64,
    /// Position on the starting grid (0 is the pole).
    pub grid: usize,
}
