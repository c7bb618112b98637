//! The downstream stream (issue 16 item 4) on moto: the writer's handler with AppSync
//! (in memory) and a real Kinesis client puts every published update on the stream, one
//! record keyed by car; a stream that refuses fails the request, so its caller sends it
//! again (at-least-once: a consumer keeps one update per race, car and seq).

use std::collections::BTreeSet;
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::encodings::Body;
use aws_sdk_kinesis::types::ShardIteratorType;
use burnbar_aws::kinesis::KinesisDownstream;
use burnbar_aws::testkit::Moto;
use burnbar_metrics::MetricSet;
use burnbar_pipeline::memory::MemoryAppSync;
use burnbar_pipeline::writer::{Publishing, handle};
use serde_json::Value;
use tokio::time::Instant;

const GOOD: &str = include_str!("../../../events/appsync-writer.json");

fn event() -> ApiGatewayProxyRequest {
    serde_json::from_str(GOOD).unwrap()
}

async fn run(port: &Publishing<MemoryAppSync, KinesisDownstream>) -> (i64, Value, MetricSet) {
    let mut m = burnbar_lambda::invocation::metric_set("appsync-writer");
    let deadline = Instant::now() + Duration::from_secs(10);
    let r = handle(port, &event(), deadline, "req-1", &mut m).await;
    if let Some(d) = &port.downstream {
        d.drain_metrics(&mut m);
    }
    let body = match &r.body {
        Some(Body::Text(t)) => serde_json::from_str(t).unwrap(),
        other => panic!("body {other:?}"),
    };
    (r.status_code, body, m)
}

/// Every record of the stream: (partition key, data as JSON).
async fn read_all(k: &aws_sdk_kinesis::Client, stream: &str) -> Vec<(String, Value)> {
    let shards = k.list_shards().stream_name(stream).send().await.unwrap();
    let mut out = Vec::new();
    for s in shards.shards() {
        let mut it = k
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(s.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator()
            .map(str::to_owned);
        while let Some(i) = it {
            let r = k.get_records().shard_iterator(i).send().await.unwrap();
            if r.records().is_empty() {
                break;
            }
            for rec in r.records() {
                out.push((
                    rec.partition_key().unwrap_or_default().to_owned(),
                    serde_json::from_slice(rec.data().as_ref()).unwrap(),
                ));
            }
            it = r.next_shard_iterator().map(str::to_owned);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_updates_reach_the_downstream_stream_keyed_by_car_and_a_refusal_fails_the_request()
 {
    let moto = Moto::start();
    let k = aws_sdk_kinesis::Client::new(&moto.sdk().await);
    k.create_stream()
        .stream_name("updates")
        .shard_count(2)
        .send()
        .await
        .unwrap();
    let sent: Vec<Value> = {
        let body: Value = serde_json::from_str(event().body.as_deref().unwrap()).unwrap();
        body["updates"].as_array().unwrap().clone()
    };
    let key = |u: &Value| {
        (
            u["race_id"].as_str().unwrap().to_owned(),
            u["car"].as_str().unwrap().to_owned(),
            u["seq"].as_i64().unwrap(),
        )
    };
    let want: BTreeSet<_> = sent.iter().map(key).collect();

    let port = Publishing {
        appsync: MemoryAppSync::new(),
        downstream: Some(KinesisDownstream::new(k.clone(), "updates")),
    };
    let (status, body, m) = run(&port).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(m.get("downstream_records_total"), Some(sent.len() as f64));
    assert_eq!(m.get("downstream_failures_total"), Some(0.0));
    let got = read_all(&k, "updates").await;
    assert_eq!(got.len(), sent.len());
    for (pk, u) in &got {
        assert_eq!(pk, u["car"].as_str().unwrap(), "keyed by car");
        assert_eq!(u["v"], 1, "fuel-update-v1");
    }
    assert_eq!(
        got.iter().map(|(_, u)| key(u)).collect::<BTreeSet<_>>(),
        want
    );

    // The caller sends the request again (say its answer was lost): the stream holds
    // each update twice, and a consumer keeping one per race, car and seq sees each once.
    let (status, _, _) = run(&port).await;
    assert_eq!(status, 200);
    let got = read_all(&k, "updates").await;
    assert_eq!(got.len(), 2 * sent.len());
    assert_eq!(
        got.iter().map(|(_, u)| key(u)).collect::<BTreeSet<_>>(),
        want
    );

    // A stream that is not there: AppSync took the chunk first, the request fails as
    // refused (502, not retryable: a deployment to fix), and it is counted.
    let missing = Publishing {
        appsync: MemoryAppSync::new(),
        downstream: Some(KinesisDownstream::new(k.clone(), "no-such-stream")),
    };
    let (status, body, m) = run(&missing).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["retryable"], false);
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("downstream stream"),
        "{body}"
    );
    assert!(!missing.appsync.mutations().is_empty());
    assert!(m.get("downstream_failures_total").unwrap() >= 1.0);
    assert!(m.get("publish_failures_total").unwrap() >= 1.0);
}
