//! The SageMaker runtime predictor: seeded answers, a bad answer, a timeout, the breaker
//! opening and recovering.

use super::*;

fn features(n: usize) -> Vec<WindowFeatures> {
    (0..n)
        .map(|i| WindowFeatures {
            car: car("1"),
            package: burnbar_core::tracks::EnginePackage::Hp670,
            window_start: 1_750_000_000_000 + 5000 * i as i64,
            physics_gph: 30.0,
            throttle: 0.8,
            rpm: 8000.0,
            wot_share: 0.5,
            closed_share: 0.05,
            mph: 160.0,
            caution_share: 0.0,
            in_pit: false,
            coverage: 1.0,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_predictor_reads_seeded_answers_falls_back_on_errors_and_timeouts_and_the_breaker_recovers()
 {
    let moto = Moto::start();
    let client = aws_sdk_sagemakerruntime::Client::new(&moto.sdk().await);
    moto.seed_sagemaker(&[
        r#"{"factors":[1.01,0.99]}"#,
        "not json",
        r#"{"factors":[1.02,1.0,1.04,1.05],"outside_domain":[false,true,false,false]}"#,
    ]);
    let mut p = SageMakerPredictor::new(client.clone(), "burnbar-correction");
    // moto answers its first call slowly (it loads the service); SageMaker itself is
    // held to the default 300 ms.
    p.timeout = Duration::from_secs(10);
    // Seeded answers in order (moto answers per distinct request). An answer without
    // outside_domain (a container before format 2) has every window inside.
    assert_eq!(
        p.predict(&features(2), dl()).await.unwrap(),
        [Some(1.01), Some(0.99)]
    );
    // An answer that is not the contract's: the endpoint's trouble (it counts toward the
    // breaker, as a 5xx does).
    match p.predict(&features(3), dl()).await {
        Err(PortError::Retryable(m)) => assert!(m.contains("not {\"factors\""), "{m}"),
        other => panic!("{other:?}"),
    }
    // A timeout: an endpoint that accepts the connection and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let slow_conf = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&silent_url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    let mut slow = SageMakerPredictor::new(aws_sdk_sagemakerruntime::Client::new(&slow_conf), "x");
    slow.timeout = Duration::from_millis(200);
    match slow.predict(&features(1), dl()).await {
        Err(PortError::Retryable(m)) => assert!(m.contains("deadline"), "{m}"),
        other => panic!("{other:?}"),
    }
    // The breaker: three timeouts open it, calls are skipped, a probe after the pause
    // reaches a healthy endpoint and closes it.
    let mut b = Breaker::new(slow);
    b.open_for = Duration::from_millis(300);
    for _ in 0..3 {
        assert!(matches!(
            b.predict(&features(1), dl()).await,
            Err(Fallback::Failed(_))
        ));
    }
    assert!(matches!(b.state(), BreakerState::Open { .. }));
    assert_eq!(b.predict(&features(1), dl()).await, Err(Fallback::Open));
    drop(silent);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let mut sm = SageMakerPredictor::new(client, "burnbar-correction");
    sm.timeout = Duration::from_secs(10);
    let mut healthy = Breaker::new(sm);
    healthy.open_for = Duration::from_millis(300);
    // (moto answers a request it has seen with the same answer: a new one takes the next.)
    // A window outside the model's domain comes back as physics (None).
    assert_eq!(
        healthy.predict(&features(4), dl()).await,
        Ok(vec![Some(1.02), None, Some(1.04), Some(1.05)])
    );
    assert_eq!(healthy.state(), BreakerState::Closed { failures: 0 });
}
