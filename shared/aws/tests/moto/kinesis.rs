//! Kinesis → the processor: records put on a stream, read back into the events Lambda
//! delivers, publish what the in-memory adapters do.

use super::*;

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
