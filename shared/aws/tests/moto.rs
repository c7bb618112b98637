//! The AWS adapters against `moto` on loopback: DynamoDB (conditional writes from two
//! writers, TTL honoured on read, the race items), the SageMaker runtime predictor (seeded
//! answers, a bad answer, a timeout, the breaker opening and recovering), SQS quarantine,
//! the processor end to end on the real adapters, and Kinesis → the processor: records
//! put on a stream, read back into the events Lambda delivers.
//!
//! Each test starts its own `moto_server` on 127.0.0.1 and kills it when done; the
//! README's test command installs it (`scripts/setup-lambda`).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use burnbar_aws::dynamo::DynamoStore;
use burnbar_aws::sagemaker::SageMakerPredictor;
use burnbar_aws::sqs::SqsQuarantine;
use burnbar_aws::testkit::Moto;
use burnbar_core::CarId;
use burnbar_core::car::{CarState, WindowFeatures};
use burnbar_metrics::MetricSet;
use burnbar_pipeline::breaker::{Breaker, BreakerState, Fallback};
use burnbar_pipeline::memory::{MemoryPublisher, NoPredictor};
use burnbar_pipeline::ports::{
    CarItem, CarStore, PortError, Predictor, RaceStore, Saved, StoredEvent,
};
use burnbar_pipeline::{InRecord, Processor, ProcessorConfig};
use tokio::time::Instant;

fn dl() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

fn car(c: &str) -> CarId {
    CarId::parse(c).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_writes_from_two_writers_lose_no_update_and_ttl_is_honoured_on_read() {
    let moto = Moto::start();
    let store = moto.table("burnbar").await;
    let c = car("48");
    let a = store.load_cars("r1", &[c], dl()).await.unwrap();
    assert!(a.is_empty());
    // Two writers read version 0; the first wins, the second is told of the conflict.
    let mut one = CarItem::new(CarState::new(c, 20.0));
    one.applied.push("a".into());
    let mut two = one.clone();
    two.applied.push("b".into());
    assert!(matches!(
        store.save_car("r1", &one, dl()).await.unwrap(),
        Saved::Ok { .. }
    ));
    assert_eq!(
        store.save_car("r1", &two, dl()).await.unwrap(),
        Saved::Conflict
    );
    // It reads again and re-applies: both changes are there.
    let mut fresh = store
        .load_cars("r1", &[c], dl())
        .await
        .unwrap()
        .remove(&c)
        .unwrap();
    assert_eq!(fresh.version, 1);
    fresh.applied.push("b".into());
    match store.save_car("r1", &fresh, dl()).await.unwrap() {
        Saved::Ok {
            item_bytes,
            write_units,
        } => {
            assert!(item_bytes > 50 && item_bytes < 1024, "{item_bytes}");
            assert!(write_units >= 1.0);
        }
        Saved::Conflict => panic!("fresh version conflicts"),
    }
    let back = store
        .load_cars("r1", &[c], dl())
        .await
        .unwrap()
        .remove(&c)
        .unwrap();
    assert_eq!(back.applied, ["a", "b"]);
    assert_eq!(back.version, 2);

    // An item past its TTL is absent (moto, like DynamoDB, has not deleted it yet), and a
    // new car can be written over it.
    let mut expiring = store.clone();
    expiring.ttl = Duration::ZERO;
    let d = car("9");
    expiring
        .save_car("r1", &CarItem::new(CarState::new(d, 20.0)), dl())
        .await
        .unwrap();
    assert!(store.load_cars("r1", &[d], dl()).await.unwrap().is_empty());
    assert!(matches!(
        store
            .save_car("r1", &CarItem::new(CarState::new(d, 18.0)), dl())
            .await
            .unwrap(),
        Saved::Ok { .. }
    ));
    assert_eq!(
        store.load_cars("r1", &[d], dl()).await.unwrap()[&d]
            .state
            .fuel
            .capacity,
        18.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_items_events_once_current_race_forward_only_and_summaries() {
    let moto = Moto::start();
    let store = moto.table("burnbar").await;
    assert_eq!(store.current_race(dl()).await.unwrap(), None);
    let ev = |ts: i64, id: &str| StoredEvent {
        ts,
        id: id.into(),
        line: format!("{{\"ts\":{ts}}}"),
    };
    assert!(
        store
            .put_event("r2", &ev(200, "s2"), true, dl())
            .await
            .unwrap()
    );
    assert!(
        store
            .put_event("r1", &ev(100, "s1"), true, dl())
            .await
            .unwrap()
    );
    assert_eq!(
        store.current_race(dl()).await.unwrap().as_deref(),
        Some("r2"),
        "an older race_start does not take the pointer back"
    );
    assert!(
        store
            .put_event("r2", &ev(300, "000000000000300#b"), false, dl())
            .await
            .unwrap()
    );
    assert!(
        store
            .put_event("r2", &ev(250, "000000000000250#a"), false, dl())
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_event("r2", &ev(300, "000000000000300#b"), false, dl())
            .await
            .unwrap(),
        "the same event twice"
    );
    let s = burnbar_pipeline::ports::CarSummary {
        figures: vec![(1, 0.2)],
        pos: 3.5,
        // The car's fuel per green lap round-trips (the field's fuel window reads it).
        fuel_per_green_lap: Some(0.5512),
        retired: false,
        last_ts: Some(1_750_593_600_000),
        open: true,
        written_ms: 1_795_924_646_599,
    };
    store.put_summary("r2", car("5"), &s, dl()).await.unwrap();
    // A car with no sample yet (race control wrote it): no newest ts.
    let quiet = burnbar_pipeline::ports::CarSummary {
        retired: true,
        ..Default::default()
    };
    store
        .put_summary("r2", car("6"), &quiet, dl())
        .await
        .unwrap();
    let v = store.load_race("r2", dl()).await.unwrap();
    assert_eq!(v.summaries[&car("6")], quiet);
    assert_eq!(v.start.unwrap().ts, 200);
    assert_eq!(
        v.events.iter().map(|e| e.ts).collect::<Vec<_>>(),
        [250, 300]
    );
    assert_eq!(v.summaries[&car("5")], s);
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_processor_on_dynamodb_and_sqs_counts_each_sample_once_and_quarantines_bad_lines() {
    let moto = Moto::start();
    let (proc, store, sqs, queue_url) = processor_on_moto(&moto).await;
    // 40 s of one car at 5 Hz, a bad line in the middle, sent in 4 batches, each twice.
    let t0 = 1_750_593_600_000i64;
    let mut lines: Vec<String> = (0..200)
        .map(|i| {
            format!(
                r#"{{"v":1,"race_id":"r","car":"7","ts":{},"throttle_pct":80,"rpm":8200,"speed_mph":150,"lap":{},"lap_frac":{:.3}}}"#,
                t0 + 200 * i,
                i / 100,
                (i % 100) as f64 / 100.0
            )
        })
        .collect();
    lines.insert(100, r#"{"v":1,"race_id":"r","car":"7","ts":-5}"#.into());
    let recs: Vec<(String, Vec<u8>)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("{:020}", i), l.clone().into_bytes()))
        .collect();
    for chunk in recs.chunks(51) {
        let ins: Vec<InRecord> = chunk.iter().map(|(s, d)| InRecord::new(s, d)).collect();
        for _ in 0..2 {
            let mut m = MetricSet::new("t", &[]);
            let o = proc.handle(&ins, dl(), &mut m).await;
            assert_eq!(o.first_failed, None);
        }
    }
    let updates = proc.publisher.updates.lock().unwrap().clone();
    let mut seen = std::collections::BTreeMap::new();
    for u in &updates {
        seen.insert(u.seq, u.samples);
    }
    let item = store
        .load_cars("r", &[car("7")], dl())
        .await
        .unwrap()
        .remove(&car("7"))
        .unwrap();
    let counted: u32 = seen.values().sum::<u32>() + item.state.held() as u32;
    assert_eq!(
        counted, 200,
        "every good sample counted once, closed or held"
    );
    let msgs = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let bodies: Vec<serde_json::Value> = msgs
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    assert!(!bodies.is_empty());
    assert!(bodies.iter().all(|b| b["code"] == "out_of_range"
        && b["field"] == "ts"
        && b["sequence_number"] == format!("{:020}", 100)));
}

/// A rejected line of 64 KiB of control characters (384 KiB once JSON-escaped, over SQS's
/// 256 KiB message limit) is quarantined with its reason, cut to what the message can carry,
/// and the lines around it are processed: the send no longer fails, and a later quarantine
/// batch of the same invocation is sent too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_line_is_quarantined_within_the_message_limit_and_the_rest_goes_on() {
    let moto = Moto::start();
    let (proc, store, sqs, queue_url) = processor_on_moto(&moto).await;
    let t0 = 1_750_593_600_000i64;
    let good = |i: i64| {
        format!(
            r#"{{"v":1,"race_id":"r","car":"7","ts":{},"throttle_pct":80,"rpm":8200,"speed_mph":150}}"#,
            t0 + 200 * i
        )
        .into_bytes()
    };
    let hostile = vec![1u8; 64 * 1024];
    let small_bad = br#"{"v":1,"race_id":"r","car":"7","ts":-5}"#.to_vec();
    let datas = [good(0), hostile, good(1), small_bad, good(2)];
    let seqs: Vec<String> = (0..datas.len()).map(|i| format!("{i:020}")).collect();
    let ins: Vec<InRecord> = datas
        .iter()
        .zip(&seqs)
        .map(|(d, s)| InRecord::new(s, d))
        .collect();
    let mut m = MetricSet::new("t", &[]);
    let o = proc.handle(&ins, dl(), &mut m).await;
    assert_eq!(o.first_failed, None, "nothing to deliver again");
    assert_eq!(m.get("records_quarantined_total"), Some(2.0));
    assert_eq!(m.get("quarantine_failures_total").unwrap_or(0.0), 0.0);
    let mut bodies = Vec::new();
    for _ in 0..5 {
        let msgs = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        bodies.extend(
            msgs.messages()
                .iter()
                .map(|m| serde_json::from_str::<serde_json::Value>(m.body().unwrap()).unwrap()),
        );
        if bodies.len() >= 2 {
            break;
        }
    }
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let hostile = bodies
        .iter()
        .find(|b| b["sequence_number"] == seqs[1])
        .unwrap();
    assert_eq!(hostile["code"], "invalid_json");
    let kept = hostile["line"].as_str().unwrap();
    assert!(
        kept.len() > 10_000 && kept.chars().all(|c| c == '\u{1}'),
        "{}",
        kept.len()
    );
    let item = store
        .load_cars("r", &[car("7")], dl())
        .await
        .unwrap()
        .remove(&car("7"))
        .unwrap();
    assert_eq!(item.state.held(), 3, "the three good samples are counted");
}

/// The Kinesis events Lambda would deliver for one shard's records, `batch` records each:
/// base64 data, Kinesis's sequence numbers and partition keys.
fn lambda_events(
    shard: &str,
    records: &[aws_sdk_kinesis::types::Record],
    batch: usize,
) -> Vec<burnbar_lambda::event::KinesisBatch> {
    use base64::Engine as _;
    records
        .chunks(batch)
        .map(|chunk| {
            let recs: Vec<serde_json::Value> = chunk
                .iter()
                .map(|r| {
                    let seq = r.sequence_number();
                    serde_json::json!({
                        "kinesis": {
                            "kinesisSchemaVersion": "1.0",
                            "partitionKey": r.partition_key(),
                            "sequenceNumber": seq,
                            "data": base64::engine::general_purpose::STANDARD
                                .encode(r.data().as_ref()),
                            "approximateArrivalTimestamp": r
                                .approximate_arrival_timestamp()
                                .map_or(0.0, |t| t.as_secs_f64()),
                        },
                        "eventSource": "aws:kinesis",
                        "eventVersion": "1.0",
                        "eventID": format!("{shard}:{seq}"),
                        "eventName": "aws:kinesis:record",
                        "invokeIdentityArn": "arn:aws:iam::123456789012:role/burnbar-telemetry",
                        "awsRegion": "us-east-1",
                        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/telemetry",
                    })
                })
                .collect();
            serde_json::from_value(serde_json::json!({ "Records": recs })).unwrap()
        })
        .collect()
}

fn lambda_ctx() -> lambda_runtime::Context {
    let mut ctx = lambda_runtime::Context::default();
    ctx.request_id = "kinesis-e2e".into();
    // The runtime's deadline header: epoch milliseconds.
    ctx.deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 60_000;
    ctx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinesis_records_through_the_processor_on_dynamodb_publish_what_memory_does() {
    use aws_sdk_kinesis::primitives::Blob;
    use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
    use burnbar_lambda::runtime::kinesis_invocation;
    use burnbar_pipeline::Control;
    use burnbar_pipeline::memory::{MemoryProcessor, MemoryQuarantine, MemoryStore};
    use burnbar_sim::{SimConfig, Simulation};
    use lambda_runtime::LambdaEvent;

    let moto = Moto::start();
    let kinesis = aws_sdk_kinesis::Client::new(&moto.sdk().await);
    kinesis
        .create_stream()
        .stream_name("telemetry")
        .shard_count(2)
        .send()
        .await
        .unwrap();

    // A short race: 4 cars at 5 Hz, two laps of Iowa.
    let sim = Simulation::new(&SimConfig {
        track: "iowa".into(),
        laps: Some(2),
        cars: 4,
        hz: 5,
        seed: 21,
        ..SimConfig::default()
    })
    .unwrap();
    let (mut events, mut samples) = (Vec::new(), Vec::new());
    for (ts, line) in sim {
        if line.contains("\"kind\"") {
            events.push(line);
        } else {
            samples.push((ts, line));
        }
    }
    // Packed as the bridge packs them: up to 5 lines of one car a record, partition key
    // the car, records in time order.
    let mut by_car: BTreeMap<String, Vec<&(i64, String)>> = BTreeMap::new();
    let mut race_id = String::new();
    for s in &samples {
        let v: serde_json::Value = serde_json::from_str(&s.1).unwrap();
        race_id = v["race_id"].as_str().unwrap().to_owned();
        by_car
            .entry(v["car"].as_str().unwrap().to_owned())
            .or_default()
            .push(s);
    }
    let mut put: Vec<(i64, String, String)> = Vec::new();
    for (car, lines) in &by_car {
        for chunk in lines.chunks(5) {
            let data: Vec<&str> = chunk.iter().map(|(_, l)| l.as_str()).collect();
            put.push((chunk[0].0, car.clone(), data.join("\n")));
        }
    }
    put.sort_by_key(|(ts, car, _)| (*ts, car.clone()));
    for chunk in put.chunks(500) {
        let entries: Vec<PutRecordsRequestEntry> = chunk
            .iter()
            .map(|(_, car, data)| {
                PutRecordsRequestEntry::builder()
                    .partition_key(car)
                    .data(Blob::new(data.as_bytes()))
                    .build()
                    .unwrap()
            })
            .collect();
        let r = kinesis
            .put_records()
            .stream_name("telemetry")
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(r.failed_record_count(), Some(0));
    }

    // Read every shard back from its start.
    let shards = kinesis
        .list_shards()
        .stream_name("telemetry")
        .send()
        .await
        .unwrap();
    let mut read: Vec<(String, Vec<aws_sdk_kinesis::types::Record>)> = Vec::new();
    for shard in shards.shards() {
        let mut it = kinesis
            .get_shard_iterator()
            .stream_name("telemetry")
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator()
            .map(str::to_owned);
        let mut recs = Vec::new();
        while let Some(i) = it {
            let r = kinesis
                .get_records()
                .shard_iterator(i)
                .send()
                .await
                .unwrap();
            if r.records().is_empty() {
                break;
            }
            recs.extend(r.records().iter().cloned());
            it = r.next_shard_iterator().map(str::to_owned);
        }
        read.push((shard.shard_id().to_owned(), recs));
    }
    assert_eq!(read.len(), 2);
    assert_eq!(read.iter().map(|(_, r)| r.len()).sum::<usize>(), put.len());
    // A car's records are on one shard, in the order they were put.
    for car in by_car.keys() {
        let on: Vec<&Vec<_>> = read
            .iter()
            .map(|(_, r)| r)
            .filter(|r| r.iter().any(|x| x.partition_key() == Some(car.as_str())))
            .collect();
        assert_eq!(on.len(), 1, "car {car} on one shard");
        let got: Vec<&[u8]> = on[0]
            .iter()
            .filter(|x| x.partition_key() == Some(car.as_str()))
            .map(|x| x.data().as_ref())
            .collect();
        let want: Vec<&[u8]> = put
            .iter()
            .filter(|(_, c, _)| c == car)
            .map(|(_, _, d)| d.as_bytes())
            .collect();
        assert_eq!(got, want, "car {car} in order");
    }

    // Lambda's deliveries: 20 records an event, the shards taking turns.
    let per_shard: Vec<Vec<_>> = read
        .iter()
        .map(|(id, recs)| lambda_events(id, recs, 20))
        .collect();
    let mut deliveries = Vec::new();
    for i in 0..per_shard.iter().map(Vec::len).max().unwrap() {
        for s in &per_shard {
            deliveries.extend(s.get(i).cloned());
        }
    }

    // The same deliveries through the function's handler on DynamoDB and in memory, race
    // control first.
    let table = moto.table("burnbar").await;
    let on_dynamo = Processor::new(
        table.clone(),
        None::<NoPredictor>,
        MemoryPublisher::default(),
        MemoryQuarantine::default(),
        ProcessorConfig::default(),
    );
    let in_memory: MemoryProcessor =
        MemoryProcessor::in_memory(MemoryStore::new(), None, ProcessorConfig::default());
    let ev_recs: Vec<(String, Vec<u8>)> = events
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("{i:020}"), l.clone().into_bytes()))
        .collect();
    let ev_ins: Vec<InRecord> = ev_recs.iter().map(|(s, d)| InRecord::new(s, d)).collect();
    let mut m = MetricSet::new("t", &[]);
    let ctl = Control::new(
        &on_dynamo.store,
        &on_dynamo.publisher,
        &on_dynamo.quarantine,
        ProcessorConfig::default(),
    );
    assert_eq!(ctl.handle(&ev_ins, dl(), &mut m).await.first_failed, None);
    let ctl = Control::new(
        &in_memory.store,
        &in_memory.publisher,
        &in_memory.quarantine,
        ProcessorConfig::default(),
    );
    assert_eq!(ctl.handle(&ev_ins, dl(), &mut m).await.first_failed, None);
    for ev in &deliveries {
        let r = kinesis_invocation(
            "telemetry-processor",
            LambdaEvent::new(ev.clone(), lambda_ctx()),
            &on_dynamo,
        )
        .await;
        assert!(r.batch_item_failures.is_empty(), "{r:?}");
        let r = kinesis_invocation(
            "telemetry-processor",
            LambdaEvent::new(ev.clone(), lambda_ctx()),
            &in_memory,
        )
        .await;
        assert!(r.batch_item_failures.is_empty(), "{r:?}");
    }
    let shown = |p: &MemoryPublisher| -> BTreeMap<(CarId, i64), burnbar_core::FuelUpdate> {
        p.updates
            .lock()
            .unwrap()
            .iter()
            .map(|u| ((u.car, u.seq), u.clone()))
            .collect()
    };
    let dynamo_updates = shown(&on_dynamo.publisher);
    assert!(dynamo_updates.len() >= 4, "{}", dynamo_updates.len());
    assert_eq!(dynamo_updates, shown(&in_memory.publisher));
    assert!(on_dynamo.quarantine.items.lock().unwrap().is_empty());

    // Every sample counted once, closed or held; then every event delivered again (a
    // replayed shard) changes no car and publishes nothing new.
    let cars: Vec<CarId> = by_car.keys().map(|c| car(c)).collect();
    let before = table.load_cars(&race_id, &cars, dl()).await.unwrap();
    assert_eq!(before.len(), cars.len());
    let counted: u32 = dynamo_updates.values().map(|u| u.samples).sum::<u32>()
        + before.values().map(|i| i.state.held() as u32).sum::<u32>();
    assert_eq!(counted as usize, samples.len());
    for ev in &deliveries {
        let r = kinesis_invocation(
            "telemetry-processor",
            LambdaEvent::new(ev.clone(), lambda_ctx()),
            &on_dynamo,
        )
        .await;
        assert!(r.batch_item_failures.is_empty(), "{r:?}");
    }
    assert_eq!(
        table.load_cars(&race_id, &cars, dl()).await.unwrap(),
        before
    );
    assert_eq!(shown(&on_dynamo.publisher), dynamo_updates);
}

/// Issue 15 item 1 where the limit is AWS's: a `race_start` within every field limit but
/// half a megabyte long (a field the contract ignores). DynamoDB refuses the line as
/// received (over 400 KB, a permanent error); race control stores it in its canonical
/// form, the record is not failed, and the race reads it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_race_start_past_dynamodbs_item_limit_is_stored_in_its_canonical_form() {
    let moto = Moto::start();
    let store = moto.table("burnbar").await;
    let t0 = 1_750_593_600_000i64;
    let line = format!(
        r#"{{"v":1,"kind":"race_start","race_id":"long","ts":{t0},"track":"iowa","drivers":{{"1":"A. One"}},"notes":"{}"}}"#,
        "z".repeat(500_000)
    );
    let raw = StoredEvent {
        ts: t0,
        id: "raw".into(),
        line: line.clone(),
    };
    let refused = store.put_event("raw", &raw, false, dl()).await;
    assert!(
        matches!(&refused, Err(PortError::Permanent(_))),
        "DynamoDB refuses the line as received: {refused:?}"
    );
    let publisher = MemoryPublisher::default();
    let quarantine = burnbar_pipeline::memory::MemoryQuarantine::default();
    let ctl =
        burnbar_pipeline::Control::new(&store, &publisher, &quarantine, ProcessorConfig::default());
    let data = line.into_bytes();
    let ins = [InRecord::new("1", &data)];
    let mut m = MetricSet::new("t", &[]);
    assert_eq!(ctl.handle(&ins, dl(), &mut m).await.first_failed, None);
    assert_eq!(m.get("events_stored_canonical_total"), Some(1.0));
    let view = store.load_race("long", dl()).await.unwrap();
    let start = view.start.expect("the race_start is stored");
    assert!(start.line.len() < 1_000, "{}", start.line);
    assert_eq!(
        store.current_race(dl()).await.unwrap().as_deref(),
        Some("long")
    );
    let state = publisher.states.lock().unwrap().last().cloned().unwrap();
    assert_eq!((state.track.as_str(), state.drivers.len()), ("iowa", 1));
}

/// Issue 15, items 2 and 4, on DynamoDB and SQS: a car item whose blob this build cannot
/// read (another format, as a deploy in mid-race would leave it) is that car's error
/// alone in the `BatchGetItem` (the other cars of the read decode), its samples go to the
/// quarantine with the reason, and the item is left as it was; in the same batch, a
/// record of 500,000 bad lines is 21 messages. The other cars go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_car_item_and_a_record_of_bad_lines_stay_with_their_car_and_record() {
    let moto = Moto::start();
    let (proc, store, sqs, queue_url) = processor_on_moto(&moto).await;
    let t0 = 1_750_593_600_000i64;
    // One record per car and second, 5 samples each.
    let secs = |range: std::ops::Range<i64>| -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for s in range {
            for c in ["1", "2", "3"] {
                let lines: Vec<String> = (0..5)
                    .map(|k| {
                        let ts = t0 + s * 1000 + 100 + k * 200;
                        let laps = (ts - t0) as f64 / 24_000.0;
                        format!(
                            r#"{{"v":1,"race_id":"r","car":"{c}","ts":{ts},"lap":{},"lap_frac":{:.4},"speed_mph":140.0,"rpm":9000,"throttle_pct":90.0}}"#,
                            laps.floor(),
                            laps.fract()
                        )
                    })
                    .collect();
                out.push((
                    format!("{:020}", out.len() + 1_000 * s as usize),
                    lines.join("\n").into_bytes(),
                ));
            }
        }
        out
    };
    let handle = |recs: Vec<(String, Vec<u8>)>| {
        let proc = &proc;
        async move {
            let ins: Vec<InRecord> = recs.iter().map(|(s, d)| InRecord::new(s, d)).collect();
            let mut m = MetricSet::new("t", &[]);
            let o = proc.handle(&ins, dl(), &mut m).await;
            (o.first_failed, m)
        }
    };
    assert_eq!(handle(secs(0..20)).await.0, None);

    // Car 2's blob rewritten as another build's format would leave it.
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk().await);
    let key = |c: &str| {
        std::collections::HashMap::from([
            ("pk".to_owned(), AttributeValue::S("race#r".into())),
            ("sk".to_owned(), AttributeValue::S(format!("car#{c}"))),
        ])
    };
    let mut row = ddb
        .get_item()
        .table_name("burnbar")
        .set_key(Some(key("2")))
        .send()
        .await
        .unwrap()
        .item()
        .unwrap()
        .clone();
    let mut blob = match &row["blob"] {
        AttributeValue::B(b) => b.as_ref().to_vec(),
        other => panic!("{other:?}"),
    };
    blob[0] = 9;
    row.insert("blob".into(), AttributeValue::B(blob.clone().into()));
    ddb.put_item()
        .table_name("burnbar")
        .set_item(Some(row))
        .send()
        .await
        .unwrap();
    let read = store
        .load_cars_each("r", &[car("1"), car("2"), car("3")], dl())
        .await
        .unwrap();
    assert!(read[&car("1")].is_ok() && read[&car("3")].is_ok());
    match &read[&car("2")] {
        Err(PortError::Permanent(m)) => assert!(m.contains("format 9"), "{m}"),
        other => panic!("{other:?}"),
    }

    let mut recs = secs(20..30);
    recs.push((
        format!("{:020}", 99_999),
        "not json\n".repeat(500_000).into_bytes(),
    ));
    let (failed, m) = handle(recs).await;
    assert_eq!(failed, None);
    assert_eq!(m.get("cars_undecodable_total"), Some(1.0));
    assert_eq!(m.get("records_quarantined_total"), Some(71.0));
    let mut bodies: Vec<serde_json::Value> = Vec::new();
    for _ in 0..30 {
        let msgs = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for msg in msgs.messages() {
            bodies.push(serde_json::from_str(msg.body().unwrap()).unwrap());
        }
        if bodies.len() >= 71 || msgs.messages().is_empty() {
            break;
        }
    }
    let count = |code: &str| bodies.iter().filter(|b| b["code"] == code).count();
    assert_eq!(bodies.len(), 71);
    assert_eq!(count("car_state_undecodable"), 50);
    assert!(
        bodies
            .iter()
            .filter(|b| b["code"] == "car_state_undecodable")
            .all(|b| b["detail"].as_str().unwrap().contains("format 9"))
    );
    assert_eq!(count("invalid_json"), 20);
    assert_eq!(count("rejected_lines_omitted"), 1);
    // The other cars went on; car 2's item is as it was left.
    let after = store
        .load_cars_each("r", &[car("1"), car("2"), car("3")], dl())
        .await
        .unwrap();
    for c in ["1", "3"] {
        let item = after[&car(c)].as_ref().unwrap();
        assert_eq!(item.state.max_ts, Some(t0 + 29_900));
    }
    assert!(after[&car("2")].is_err());
}

/// The processor of the telemetry function on moto: its state in the DynamoDB table
/// `burnbar`, its quarantine on the SQS queue `quarantine` (with the client and queue URL
/// to read the quarantine back), updates kept in memory, no correction.
async fn processor_on_moto(
    moto: &Moto,
) -> (
    Processor<DynamoStore, NoPredictor, MemoryPublisher, SqsQuarantine>,
    DynamoStore,
    aws_sdk_sqs::Client,
    String,
) {
    let store = moto.table("burnbar").await;
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk().await);
    let queue_url = sqs
        .create_queue()
        .queue_name("quarantine")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let proc = Processor::new(
        store.clone(),
        None,
        MemoryPublisher::default(),
        SqsQuarantine::new(sqs.clone(), &queue_url),
        ProcessorConfig::default(),
    );
    (proc, store, sqs, queue_url)
}
