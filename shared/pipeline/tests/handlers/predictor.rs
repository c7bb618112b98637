//! The learned correction as a predictor port, and the fallback when the model fails or
//! a window is outside its domain.

use super::*;

/// The learned correction as a predictor port: scales every window by a fixed factor.
struct Scale(f64);
impl Predictor for Scale {
    async fn predict(
        &self,
        w: &[WindowFeatures],
        _: Instant,
    ) -> Result<Vec<Option<f64>>, PortError> {
        assert!(w.iter().all(|f| f.physics_gph >= 0.0 && f.coverage <= 1.0));
        Ok(vec![Some(self.0); w.len()])
    }
}
/// A model that knows only every other window (by its start): the others are outside
/// its domain.
struct EveryOther(f64);
impl Predictor for EveryOther {
    async fn predict(
        &self,
        w: &[WindowFeatures],
        _: Instant,
    ) -> Result<Vec<Option<f64>>, PortError> {
        Ok(w.iter()
            .map(|f| (f.window_start % 10_000 == 0).then_some(self.0))
            .collect())
    }
}
struct Down;
impl Predictor for Down {
    async fn predict(
        &self,
        _: &[WindowFeatures],
        _: Instant,
    ) -> Result<Vec<Option<f64>>, PortError> {
        Err(PortError::Retryable("ModelError 503".into()))
    }
}

fn with<P: Predictor>(pred: P) -> Proc<P> {
    MemoryProcessor::in_memory(MemoryStore::new(), Some(pred), ProcessorConfig::default())
}

async fn drive<P: Predictor>(p: &Proc<P>, steps: &[Step]) -> MetricSet {
    let mut total = MetricSet::new("t", &[]);
    for (i, s) in steps.iter().enumerate() {
        let (f, m) = send(p, &records(&s.samples, 10_000 * i as u64)).await;
        assert_eq!(f, None);
        for k in [
            "predictor_fallbacks_total",
            "predictor_windows_total",
            "predictor_skipped_open_total",
            "windows_outside_domain_total",
        ] {
            total.count(k, m.get(k).unwrap_or(0.0) as u64);
        }
        if !s.events.is_empty() {
            let recs = records(&s.events, 10_000 * i as u64 + 5_000);
            let mut m = MetricSet::new("t", &[]);
            Control::new(
                &p.store,
                &p.publisher,
                &p.quarantine,
                ProcessorConfig::default(),
            )
            .handle(&ins(&recs), deadline(), &mut m)
            .await;
        }
    }
    total
}

#[tokio::test]
async fn the_correction_scales_each_window_and_a_failing_model_falls_back_visibly() {
    let steps = race(3, 3, 17);
    let physics = processor();
    drive(&physics, &steps).await;
    let scaled = with(Scale(1.1));
    let m = drive(&scaled, &steps).await;
    assert!(m.get("predictor_windows_total").unwrap() > 20.0);
    let (a, b) = (shown(&physics), shown(&scaled));
    assert_eq!(a.len(), b.len());
    for (k, u) in &a {
        let v = &b[k];
        assert_eq!(v.model, burnbar_core::update::ModelKind::PhysicsMl);
        assert!(
            (v.burn_gal - 1.1 * u.burn_gal).abs() <= 1e-3 + 1e-3 * u.burn_gal,
            "{k:?}: {} vs {}",
            v.burn_gal,
            u.burn_gal
        );
    }

    // Windows outside the model's domain are physics, labelled so, and counted.
    let picky = with(EveryOther(1.1));
    let m = drive(&picky, &steps).await;
    let c = shown(&picky);
    let outside = c.values().filter(|u| u.window_start % 10_000 != 0).count();
    assert!(outside > 0 && outside < c.len(), "{outside} of {}", c.len());
    assert_eq!(m.get("windows_outside_domain_total"), Some(outside as f64));
    for (k, u) in &c {
        let want = if u.window_start % 10_000 != 0 {
            burnbar_core::update::ModelKind::Physics
        } else {
            burnbar_core::update::ModelKind::PhysicsMl
        };
        assert_eq!(u.model, want, "{k:?}");
    }

    let down = with(Down);
    let m = drive(&down, &steps).await;
    let windows_asked = m.get("predictor_windows_total").unwrap();
    assert!(m.get("predictor_fallbacks_total").unwrap() > 3.0);
    assert!(
        m.get("predictor_skipped_open_total").unwrap() > 0.0,
        "the breaker opened"
    );
    assert!(windows_asked > 0.0);
    let c = shown(&down);
    assert_eq!(
        c, a,
        "the fallback is the physics estimate, labelled physics"
    );
}
