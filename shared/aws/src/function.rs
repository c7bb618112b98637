//! What the two stream functions (telemetry-processor, race-control) build the same
//! way: their configuration from the environment ([`FunctionEnv`], read once, failing
//! fast on what is missing), the AWS adapters from it ([`StreamAdapters`]), and the
//! writer API as the pipeline's publisher ([`WriterPublisher`]). Serving them is
//! `burnbar_lambda::runtime`'s.

use std::time::Duration;

use aws_config::SdkConfig;
use burnbar_core::engine::CANT_MAKE_IT_PCT_RANGE;
use burnbar_core::{EngineConfig, FuelUpdate, ModelParams, RaceState};
use burnbar_pipeline::ProcessorConfig;
use burnbar_pipeline::ports::{PortError, Publisher};
use burnbar_publish::{Signer, WriterClient};
use tokio::time::Instant;

use crate::dynamo::DynamoStore;
use crate::sagemaker::SageMakerPredictor;
use crate::sqs::SqsQuarantine;

/// A stream function's configuration, from its environment (`template.yaml` sets it).
#[derive(Debug, Clone)]
pub struct FunctionEnv {
    /// `TABLE_NAME`: the state table.
    pub table: String,
    /// `WRITER_URL`: the writer API's `/updates` URL.
    pub writer_url: String,
    /// `QUARANTINE_URL`: the SQS queue of rejected records.
    pub quarantine_url: String,
    /// `SAGEMAKER_ENDPOINT`: the correction's endpoint; empty or unset, physics only.
    pub sagemaker_endpoint: Option<String>,
    /// `CALIBRATION`: the physics model's parameters as JSON (`burnbar calibrate`);
    /// empty or unset, the embedded defaults.
    pub params: ModelParams,
    /// `STATE_TTL_DAYS`: how long state lives after its last write (default 7).
    pub ttl: Duration,
    /// `CANT_MAKE_IT_PCT`: the call threshold every RaceState carries (`fuel-update-v1`,
    /// 5 to 50; the template's `CantMakeItPct`); empty or unset, the contract's 15.
    pub cant_make_it_pct: f64,
}

impl FunctionEnv {
    /// Reads the environment through `get` (the process environment in `main`, a map in
    /// tests). Every missing or invalid variable is named in the error.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<FunctionEnv, String> {
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
        Ok(FunctionEnv {
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
    pub fn from_env() -> Result<FunctionEnv, String> {
        FunctionEnv::from_lookup(|k| std::env::var(k).ok())
    }
}

/// The physics model's parameters from a calibration's JSON (empty: the defaults),
/// validated.
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

/// What both stream functions build from their environment, once per process: the
/// state table, the writer API as publisher, the quarantine, and the SDK configuration
/// for a function's own clients (the processor's predictor).
#[derive(Debug, Clone)]
pub struct StreamAdapters {
    pub env: FunctionEnv,
    pub sdk: SdkConfig,
    pub store: DynamoStore,
    pub publisher: WriterPublisher,
    pub quarantine: SqsQuarantine,
}

impl StreamAdapters {
    /// From the process environment; the error names what is missing or invalid.
    pub async fn from_env() -> Result<StreamAdapters, String> {
        let env = FunctionEnv::from_env()?;
        let sdk = crate::sdk_config().await;
        let mut store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &env.table);
        store.ttl = env.ttl;
        let publisher = WriterPublisher::from_env(&env.writer_url)?;
        let quarantine = SqsQuarantine::new(aws_sdk_sqs::Client::new(&sdk), &env.quarantine_url);
        Ok(StreamAdapters {
            env,
            sdk,
            store,
            publisher,
            quarantine,
        })
    }

    /// The learned correction's predictor, when an endpoint is configured.
    pub fn predictor(&self) -> Option<SageMakerPredictor> {
        self.env
            .sagemaker_endpoint
            .as_ref()
            .map(|e| SageMakerPredictor::new(aws_sdk_sagemakerruntime::Client::new(&self.sdk), e))
    }

    /// The handlers' configuration ([`FunctionEnv::processor_config`]): the defaults,
    /// with the calibration's parameters and the call threshold.
    pub fn config(&self) -> ProcessorConfig {
        self.env.processor_config()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn missing_configuration_is_named_and_calibration_is_validated() {
        let env = |pairs: &[(&str, &str)]| {
            let m: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            FunctionEnv::from_lookup(move |k| m.get(k).cloned())
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
