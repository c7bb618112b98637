//! What the Kinesis-triggered functions share: configuration from the environment (read
//! once, failing fast on what is missing), the writer API as the pipeline's publisher,
//! and the Kinesis invocation around a pipeline handler (records in, deadline, metrics
//! out, the partial-batch response).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::kinesis::KinesisEvent;
use burnbar_core::engine::CANT_MAKE_IT_PCT_RANGE;
use burnbar_core::{EngineConfig, FuelUpdate, ModelParams, RaceState};
use burnbar_metrics::{MetricSet, Unit};
use burnbar_pipeline::ports::{CarStore, PortError, Predictor, Publisher, Quarantine, RaceStore};
use burnbar_pipeline::response::BatchResponse;
use burnbar_pipeline::{Control, InRecord, Outcome, Processor, ProcessorConfig};
use burnbar_publish::{Signer, WriterClient};
use lambda_runtime::{Context, LambdaEvent};
use tokio::time::Instant;

/// Configuration of a function, from its environment (`template.yaml` sets it).
#[derive(Debug, Clone)]
pub struct Env {
    /// `TABLE_NAME`: the state table.
    pub table: String,
    /// `WRITER_URL`: the writer API's `/updates` URL.
    pub writer_url: String,
    /// `QUARANTINE_URL`: the SQS queue of rejected records.
    pub quarantine_url: String,
    /// `SAGEMAKER_ENDPOINT`: the correction's endpoint; empty or unset, physics only.
    pub sagemaker_endpoint: Option<String>,
    /// `CALIBRATION`: the model parameters as JSON (`burnbar calibrate`); empty or unset,
    /// the embedded defaults.
    pub params: ModelParams,
    /// `STATE_TTL_DAYS`: how long state lives after its last write (default 7).
    pub ttl: Duration,
    /// `CANT_MAKE_IT_PCT`: the call threshold every RaceState carries (`fuel-update-v1`,
    /// 5 to 50; the template's `CantMakeItPct`); empty or unset, the contract's 15.
    pub cant_make_it_pct: f64,
}

impl Env {
    /// Reads the environment through `get` (the process environment in `main`, a map in
    /// tests). Every missing or invalid variable is named in the error.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Env, String> {
        let mut missing = Vec::new();
        let mut need = |k: &str| {
            get(k).filter(|v| !v.trim().is_empty()).unwrap_or_else(|| {
                missing.push(k.to_owned());
                String::new()
            })
        };
        let table = need("TABLE_NAME");
        let writer_url = need("WRITER_URL");
        let quarantine_url = need("QUARANTINE_URL");
        if !missing.is_empty() {
            return Err(format!("missing environment: {}", missing.join(", ")));
        }
        let params = params_from(get("CALIBRATION").as_deref().unwrap_or(""))?;
        let ttl_days = match get("STATE_TTL_DAYS").filter(|v| !v.trim().is_empty()) {
            None => 7,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|d| *d >= 1)
                .ok_or_else(|| {
                    format!("STATE_TTL_DAYS must be a whole number of days >= 1, not {v:?}")
                })?,
        };
        let cant_make_it_pct = match get("CANT_MAKE_IT_PCT").filter(|v| !v.trim().is_empty()) {
            None => EngineConfig::default().cant_make_it_pct,
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| CANT_MAKE_IT_PCT_RANGE.contains(p))
                .ok_or_else(|| {
                    format!("CANT_MAKE_IT_PCT must be a number from 5 to 50, not {v:?}")
                })?,
        };
        Ok(Env {
            table,
            writer_url,
            quarantine_url,
            sagemaker_endpoint: get("SAGEMAKER_ENDPOINT").filter(|v| !v.trim().is_empty()),
            params,
            ttl: Duration::from_secs(ttl_days * 24 * 3600),
            cant_make_it_pct,
        })
    }

    /// The pipeline's configuration: the defaults, with this environment's calibration
    /// and call threshold.
    pub fn processor_config(&self) -> ProcessorConfig {
        ProcessorConfig {
            engine: EngineConfig {
                cant_make_it_pct: self.cant_make_it_pct,
                ..EngineConfig::default()
            },
            params: self.params.clone(),
            ..ProcessorConfig::default()
        }
    }

    /// From the process environment.
    pub fn from_env() -> Result<Env, String> {
        Env::from_lookup(|k| std::env::var(k).ok())
    }
}

/// The model parameters from a calibration's JSON (empty: the defaults), validated.
pub fn params_from(json: &str) -> Result<ModelParams, String> {
    if json.trim().is_empty() {
        return Ok(ModelParams::default());
    }
    let p: ModelParams = serde_json::from_str(json)
        .map_err(|e| format!("CALIBRATION is not model parameters: {e}"))?;
    p.validate().map_err(|e| format!("CALIBRATION: {e}"))?;
    Ok(p)
}

/// The writer API as the pipeline's publisher.
#[derive(Debug, Clone)]
pub struct WriterPublisher(pub WriterClient);

impl WriterPublisher {
    /// Signed for `execute-api` with the function's credentials (from the environment,
    /// where Lambda puts them).
    pub fn from_env(url: &str) -> Result<WriterPublisher, String> {
        let signer = Signer::from_env("execute-api").map_err(|e| e.0)?;
        let http = burnbar_publish::http_client().map_err(|e| e.0)?;
        WriterClient::new(http, signer, url)
            .map(WriterPublisher)
            .map_err(|e| e.0)
    }
}

impl Publisher for WriterPublisher {
    async fn publish(
        &self,
        updates: &[FuelUpdate],
        states: &[RaceState],
        deadline: Instant,
    ) -> Result<(), PortError> {
        match self.0.publish(updates, states, deadline).await {
            Ok(_) => Ok(()),
            Err(f) if f.is_retryable() => Err(PortError::Retryable(f.to_string())),
            Err(f) => Err(PortError::Permanent(f.to_string())),
        }
    }
}

/// The invocation's deadline as a tokio instant ([`burnbar_publish::lambda_time_left_ms`]
/// reads the runtime's header, from Lambda or from `cargo lambda watch`).
pub fn deadline(ctx: &Context) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    deadline_from(ctx.deadline, now_ms)
}

fn deadline_from(header_ms: u64, now_ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(burnbar_publish::lambda_time_left_ms(header_ms, now_ms))
}

/// A pipeline handler of Kinesis batches (the processor, race control).
pub trait BatchHandler {
    fn handle_batch<'a>(
        &'a self,
        records: &'a [InRecord<'a>],
        deadline: Instant,
        m: &'a mut MetricSet,
    ) -> impl std::future::Future<Output = Outcome> + 'a;
}

impl<S, P, W, Q> BatchHandler for Processor<S, P, W, Q>
where
    S: CarStore + RaceStore,
    P: Predictor,
    W: Publisher,
    Q: Quarantine,
{
    fn handle_batch<'a>(
        &'a self,
        records: &'a [InRecord<'a>],
        deadline: Instant,
        m: &'a mut MetricSet,
    ) -> impl std::future::Future<Output = Outcome> + 'a {
        self.handle(records, deadline, m)
    }
}

impl<S, W, Q> BatchHandler for Control<S, W, Q>
where
    S: CarStore + RaceStore,
    W: Publisher,
    Q: Quarantine,
{
    fn handle_batch<'a>(
        &'a self,
        records: &'a [InRecord<'a>],
        deadline: Instant,
        m: &'a mut MetricSet,
    ) -> impl std::future::Future<Output = Outcome> + 'a {
        self.handle(records, deadline, m)
    }
}

/// Runs one Kinesis invocation through `handler`, writes its metrics (EMF, one line,
/// with the request id) and answers with the partial-batch response.
pub async fn kinesis_invocation(
    function: &str,
    ev: LambdaEvent<KinesisEvent>,
    handler: &impl BatchHandler,
) -> BatchResponse {
    let t0 = std::time::Instant::now();
    let mut m = MetricSet::new("burnbar", &[("Function", function)]);
    m.property("request_id", ev.context.request_id.as_str());
    let dl = deadline(&ev.context);
    m.set(
        "invocation_budget_ms",
        Unit::Milliseconds,
        dl.saturating_duration_since(Instant::now()).as_millis() as f64,
    );
    let records: Vec<InRecord<'_>> = ev
        .payload
        .records
        .iter()
        .map(|r| InRecord {
            sequence_number: r.kinesis.sequence_number.as_str(),
            data: &r.kinesis.data.0,
        })
        .collect();
    let outcome = handler.handle_batch(&records, dl, &mut m).await;
    m.set(
        "invocation_latency_ms",
        Unit::Milliseconds,
        t0.elapsed().as_secs_f64() * 1000.0,
    );
    m.count(
        "batches_partially_failed_total",
        outcome.first_failed.is_some() as u64,
    );
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    m.emit(now_ms);
    BatchResponse::from_first_failed(outcome.first_failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_deadline_is_an_epoch_time_on_lambda_and_a_timeout_under_cargo_lambda() {
        let now = 1_795_924_646_599;
        let left = |dl: Instant| dl.saturating_duration_since(Instant::now()).as_millis() as i64;
        assert!((left(deadline_from(now + 3_000, now)) - 3_000).abs() < 50);
        assert_eq!(
            left(deadline_from(now - 5, now)),
            0,
            "a deadline passed is no time"
        );
        assert!((left(deadline_from(600_000, now)) - 600_000).abs() < 50);
        assert!(left(deadline_from(now + 86_400_000, now)) <= 900_000);
    }

    #[test]
    fn missing_configuration_is_named_and_calibration_is_validated() {
        let env = |pairs: &[(&str, &str)]| {
            let m: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Env::from_lookup(move |k| m.get(k).cloned())
        };
        let e = env(&[("TABLE_NAME", "t")]).unwrap_err();
        assert_eq!(e, "missing environment: WRITER_URL, QUARANTINE_URL");
        let base = [
            ("TABLE_NAME", "t"),
            ("WRITER_URL", "https://x/v1/updates"),
            ("QUARANTINE_URL", "q"),
        ];
        let ok = env(&base).unwrap();
        assert_eq!(ok.params, ModelParams::default());
        assert_eq!(ok.sagemaker_endpoint, None);
        assert_eq!(ok.ttl, Duration::from_secs(7 * 86400));
        assert_eq!(ok.cant_make_it_pct, 15.0);
        assert_eq!(ok.processor_config().engine.cant_make_it_pct, 15.0);
        for v in ["4.9", "50.5", "fifteen", "NaN"] {
            let mut bad = base.to_vec();
            bad.push(("CANT_MAKE_IT_PCT", v));
            assert_eq!(
                env(&bad).unwrap_err(),
                format!("CANT_MAKE_IT_PCT must be a number from 5 to 50, not {v:?}")
            );
        }
        for (v, want) in [("5", 5.0), ("12.5", 12.5), (" 50 ", 50.0), ("", 15.0)] {
            let mut set = base.to_vec();
            set.push(("CANT_MAKE_IT_PCT", v));
            let e = env(&set).unwrap();
            assert_eq!(e.cant_make_it_pct, want, "{v:?}");
            assert_eq!(e.processor_config().engine.cant_make_it_pct, want);
            assert_eq!(
                e.processor_config().engine.window_ms,
                EngineConfig::default().window_ms
            );
        }
        let mut bad = base.to_vec();
        bad.push(("CALIBRATION", "{\"hp670\": 3}"));
        assert!(
            env(&bad)
                .unwrap_err()
                .starts_with("CALIBRATION is not model parameters")
        );
        let mut bad = base.to_vec();
        bad.push(("STATE_TTL_DAYS", "0"));
        assert!(env(&bad).unwrap_err().contains("STATE_TTL_DAYS"));
        let cal = serde_json::to_string(&ModelParams::default()).unwrap();
        let mut good = base.to_vec();
        good.push(("CALIBRATION", &cal));
        good.push(("SAGEMAKER_ENDPOINT", "burnbar-correction"));
        let g = env(&good).unwrap();
        assert_eq!(g.sagemaker_endpoint.as_deref(), Some("burnbar-correction"));
    }
}
