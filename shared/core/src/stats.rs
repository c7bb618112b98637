//! Normal-distribution maths for the fuel band: the distribution function and density,
//! the Mills ratio, and the expected squared shortfall of a level read as full.

/// z for a two-sided 90 % band.
pub(crate) const Z90: f64 = 1.645;

/// The median of sorted values (the mean of the middle two for an even count); NaN for
/// none.
pub(crate) fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The Mills ratio `Φ(−x)/φ(x)`: its asymptotic series where `Φ(−x)` is too small for
/// [`norm_cdf`]'s absolute error, and infinite where `φ(x)` underflows.
pub(crate) fn mills(x: f64) -> f64 {
    if x > 5.0 {
        let x2 = x * x;
        (1.0 - 1.0 / x2 + 3.0 / (x2 * x2)) / x
    } else {
        let pdf = norm_pdf(x);
        if pdf > 0.0 {
            norm_cdf(-x) / pdf
        } else {
            f64::INFINITY
        }
    }
}

/// `E[(c − min(X, c))²]` for `X ~ N(c + margin, var)`: the mean squared error of reading
/// the level as the capacity `c` when what went in is only known to be `X`.
pub(crate) fn shortfall_var(margin: f64, var: f64) -> f64 {
    if var <= 0.0 {
        return 0.0;
    }
    let sd = var.sqrt();
    let d = margin / sd;
    var * ((1.0 + d * d) * norm_cdf(-d) - d * norm_pdf(d)).max(0.0)
}

pub(crate) fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The standard normal distribution function (Abramowitz and Stegun 7.1.26 for erf,
/// absolute error below 1.5e-7: far inside what a fuel band needs).
pub(crate) fn norm_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probably_full_fill_keeps_only_the_shortfall_in_the_band() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((norm_cdf(1.645) - 0.95).abs() < 1e-4);
        assert!((norm_cdf(-1.0) - 0.158_655).abs() < 1e-5);
        // Right at the top, half the distribution falls short: half the variance.
        assert!((shortfall_var(0.0, 4.0) - 2.0).abs() < 1e-6);
        // Well past the top, almost nothing is short.
        assert!(shortfall_var(3.0, 1.0) < 1e-3);
        // Short of the top on average, more than the whole variance.
        assert!(shortfall_var(-1.0, 1.0) > 1.0);
        // Monotone in the margin.
        let mut last = f64::INFINITY;
        for k in -16..=16 {
            let v = shortfall_var(k as f64 / 10.0, 1.0);
            assert!(v < last);
            last = v;
        }
    }
}
