//! The Lambda's SageMaker adapter against the container itself: `SageMakerPredictor`
//! (the aws-sdk-sagemakerruntime client, pointed at the `burnbar-model` binary on
//! loopback) gets the in-process model's factors, bit for bit, with the windows outside
//! its domain left to physics (`None`), and a request the container refuses is a
//! permanent error, not one to retry.

mod common;

use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_sagemakerruntime::config::Credentials;
use burnbar_aws::sagemaker::SageMakerPredictor;
use burnbar_model::invoke::MAX_WINDOWS;
use burnbar_pipeline::ports::{PortError, Predictor};
use common::{Server, model, windows};
use tokio::time::Instant;

#[test]
fn the_runtime_predictor_gets_the_in_process_factors_from_the_container() {
    let m = model();
    let server = Server::start(&m);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&server.url)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .load()
            .await;
        let client = aws_sdk_sagemakerruntime::Client::new(&sdk);
        let mut predictor = SageMakerPredictor::new(client, "burnbar-correction");
        // The production limit (300 ms) is for a warm endpoint; a test build on a busy
        // machine is neither.
        predictor.timeout = Duration::from_secs(30);
        let deadline = || Instant::now() + Duration::from_secs(30);

        for n in [1, 40, 1_000] {
            let ws = windows(n);
            let got = predictor.predict(&ws, deadline()).await.unwrap();
            let want = m.predict(&ws).per_window(n).unwrap();
            assert_eq!(got.len(), want.len());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.map(f64::to_bits), w.map(f64::to_bits), "window {i}");
            }
            if n == 1_000 {
                assert!(got.iter().any(Option::is_none), "some window outside");
            }
        }
        assert!(predictor.predict(&[], deadline()).await.unwrap().is_empty());

        let e = predictor
            .predict(&windows(MAX_WINDOWS + 1), deadline())
            .await
            .unwrap_err();
        assert!(matches!(e, PortError::Permanent(_)), "{e}");
    });
    let log = server.stderr();
    assert!(log.contains("at most 10000"), "{log}");
}
