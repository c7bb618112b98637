//! One scoring request, from the bytes SageMaker hands over to the answer's bytes: the
//! checks the container contract leaves to the model server, then the model.

use burnbar_core::car::WindowFeatures;
use burnbar_core::correction::{CorrectionModel, PredictRequest, PredictResponse};
use serde_json::error::Category;

/// Largest request body: SageMaker's real-time payload limit (6 MB; taken as 6 MiB so
/// that nothing the runtime lets through is refused here). The runtime refuses larger
/// bodies before they reach the container; this guards direct callers.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// Most windows in one request: the core's, which the processor splits its windows by
/// (`burnbar_core::correction::MAX_WINDOWS_PER_REQUEST`). More is not a caller of ours,
/// and a bound keeps one request's work small.
pub const MAX_WINDOWS: usize = burnbar_core::correction::MAX_WINDOWS_PER_REQUEST;

/// Why a request is refused; the text names the problem for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// 415: the body is not declared as `application/json`.
    MediaType(String),
    /// 400: the body is not windows the model can score.
    BadRequest(String),
}

impl Rejection {
    pub fn reason(&self) -> &str {
        match self {
            Rejection::MediaType(r) | Rejection::BadRequest(r) => r,
        }
    }
}

/// Checks the request's `Content-Type`: `application/json`, parameters (`charset`)
/// allowed. A missing header is refused too: the runtime always passes the caller's.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), Rejection> {
    let essence = content_type.map(|v| v.split(';').next().unwrap_or_default().trim());
    match essence {
        Some(e) if e.eq_ignore_ascii_case("application/json") => Ok(()),
        Some(e) => Err(Rejection::MediaType(format!(
            "Content-Type {e:?} is not supported: send application/json"
        ))),
        None => Err(Rejection::MediaType(
            "no Content-Type: send application/json".to_owned(),
        )),
    }
}

/// Scores a request body: `{"windows": [WindowFeatures, ...]}` to one factor per window,
/// in order, and per window whether it was outside the model's domain (its factor then
/// 1), by [`CorrectionModel::predict`]. An empty list is a valid request (no factors).
pub fn score(model: &CorrectionModel, body: &[u8]) -> Result<PredictResponse, Rejection> {
    let req: PredictRequest = serde_json::from_slice(body).map_err(|e| {
        Rejection::BadRequest(match e.classify() {
            Category::Data => {
                format!("the body is not {{\"windows\": [window features, ...]}}: {e}")
            }
            Category::Syntax | Category::Eof | Category::Io => {
                format!("the body is not valid JSON: {e}")
            }
        })
    })?;
    if req.windows.len() > MAX_WINDOWS {
        return Err(Rejection::BadRequest(format!(
            "{} windows in one request, at most {MAX_WINDOWS} are accepted: split the batch",
            req.windows.len()
        )));
    }
    check_finite(&req.windows)?;
    Ok(model.predict(&req.windows))
}

/// Every number of every window is finite. JSON itself has no NaN or infinity (a
/// number too large for an `f64` is refused by the parser), so this is the model's own
/// precondition, checked where the windows come in.
fn check_finite(windows: &[WindowFeatures]) -> Result<(), Rejection> {
    for (i, w) in windows.iter().enumerate() {
        let fields = [
            ("physics_gph", w.physics_gph),
            ("throttle", w.throttle),
            ("rpm", w.rpm),
            ("wot_share", w.wot_share),
            ("closed_share", w.closed_share),
            ("mph", w.mph),
            ("caution_share", w.caution_share),
            ("coverage", w.coverage),
        ];
        if let Some((name, v)) = fields.into_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Rejection::BadRequest(format!(
                "windows[{i}].{name} is {v}, not a finite number"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use burnbar_core::contract::CarId;
    use burnbar_core::correction::{Domain, N, PackageCorrection};
    use burnbar_core::tracks::EnginePackage;

    use super::*;

    fn window() -> WindowFeatures {
        WindowFeatures {
            car: CarId::parse("24").unwrap(),
            package: EnginePackage::Hp670,
            window_start: 1_000,
            physics_gph: 38.5,
            throttle: 0.7,
            rpm: 8_900.0,
            wot_share: 0.4,
            closed_share: 0.05,
            mph: 171.0,
            caution_share: 0.0,
            in_pit: false,
            coverage: 1.0,
        }
    }

    fn model() -> CorrectionModel {
        let mut m = CorrectionModel::identity();
        let mut coef = vec![0.0; N];
        coef[0] = 0.02;
        coef[1] = -0.01;
        m.hp670 = Some(PackageCorrection {
            coef,
            stints: 20,
            tracks: vec!["pocono".into()],
            domain: Domain::from_windows(&[window()]),
        });
        m
    }

    fn body(windows: &[WindowFeatures]) -> Vec<u8> {
        serde_json::to_vec(&PredictRequest {
            windows: windows.to_vec(),
        })
        .unwrap()
    }

    #[test]
    fn json_with_or_without_parameters_is_accepted_and_anything_else_is_415() {
        assert!(check_content_type(Some("application/json")).is_ok());
        assert!(check_content_type(Some("Application/JSON; charset=utf-8")).is_ok());
        for ct in [Some("text/csv"), Some("application/jsonl"), Some(""), None] {
            let e = check_content_type(ct).unwrap_err();
            assert!(matches!(e, Rejection::MediaType(_)), "{ct:?}");
            assert!(e.reason().contains("application/json"), "{e:?}");
        }
    }

    #[test]
    fn a_batch_is_scored_in_order_by_the_model() {
        let mut b = window();
        b.package = EnginePackage::Hp510;
        let m = model();
        let mut short = window();
        short.mph = 94.0;
        let windows = [window(), b, window(), short];
        let r = score(&m, &body(&windows)).unwrap();
        assert_eq!(r, m.predict(&windows));
        assert_eq!(r.factors[1], 1.0, "an untrained package is physics");
        assert_eq!(r.factors[3], 1.0, "a window outside the domain is physics");
        assert_eq!(r.outside_domain, [false, true, false, true]);
        assert!(score(&m, br#"{"windows": []}"#).unwrap().factors.is_empty());
    }

    #[test]
    fn bad_bodies_are_refused_with_the_problem_named() {
        let m = model();
        let cases: [(&[u8], &str); 5] = [
            (b"windows", "not valid JSON"),
            (b"{\"windows\": [", "not valid JSON"),
            (b"{\"factors\": []}", "missing field `windows`"),
            (b"{\"windows\": [{\"car\": \"24\"}]}", "missing field"),
            (b"{\"windows\": 3}", "not {\"windows\""),
        ];
        for (body, want) in cases {
            let e = score(&m, body).unwrap_err();
            assert!(matches!(e, Rejection::BadRequest(_)));
            assert!(e.reason().contains(want), "{want}: {e:?}");
        }
    }

    #[test]
    fn too_many_windows_and_non_finite_numbers_are_refused() {
        let m = model();
        let e = score(&m, &body(&vec![window(); MAX_WINDOWS + 1])).unwrap_err();
        assert!(e.reason().contains("at most 10000"), "{e:?}");
        assert!(score(&m, &body(&vec![window(); MAX_WINDOWS])).is_ok());

        let mut w = window();
        w.mph = f64::INFINITY;
        let e = check_finite(&[window(), w]).unwrap_err();
        assert_eq!(e.reason(), "windows[1].mph is inf, not a finite number");
        let text = String::from_utf8(body(&[window()]))
            .unwrap()
            .replace("\"rpm\":8900.0", "\"rpm\":1e999");
        let e = score(&m, text.as_bytes()).unwrap_err();
        assert!(e.reason().contains("number out of range"), "{e:?}");
    }
}
