//! The redrive tool end to end against moto (Kinesis and SQS on 127.0.0.1): on-failure
//! messages in, records read back by shard and sequence range, put on their stream again.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_kinesis::config::Credentials;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;
use serde_json::Value;

struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server: run `bash scripts/setup-lambda` (pip install 'moto[server]')");
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "moto did not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

const STREAM: &str = "burnbar-telemetry";
const ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/burnbar-telemetry";

fn failure(start: &str, end: &str, size: usize) -> String {
    serde_json::json!({
        "requestContext": {"requestId": "r", "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6},
        "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-12-04T18:00:00.000Z",
        "KinesisBatchInfo": {
            "shardId": "shardId-000000000000",
            "startSequenceNumber": start,
            "endSequenceNumber": end,
            "batchSize": size,
            "streamArn": ARN
        }
    })
    .to_string()
}

/// Runs the tool; returns its exit code and its report lines.
fn redrive(m: &Moto, args: &[&str]) -> (i32, Vec<Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_burnbar-redrive"))
        .args(args)
        .env_clear()
        .env("AWS_ENDPOINT_URL", &m.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code().unwrap(), lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_batches_are_read_back_and_put_on_their_stream_again() {
    let m = moto();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&m.url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    let k = aws_sdk_kinesis::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    k.create_stream()
        .stream_name(STREAM)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let mut sent = Vec::new();
    for i in 0..20 {
        let car = (i % 3).to_string();
        let line = format!(
            "{{\"v\":1,\"car\":\"{car}\",\"ts\":{},\"rpm\":8000}}\n",
            1_750_593_600_000_i64 + i * 100
        );
        let r = k
            .put_record()
            .stream_name(STREAM)
            .partition_key(&car)
            .data(Blob::new(line.clone()))
            .send()
            .await
            .unwrap();
        sent.push((car, r.sequence_number, line));
    }
    let q = sqs
        .create_queue()
        .queue_name("failed")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for body in [failure(&sent[5].1, &sent[9].1, 5), "not json".to_owned()] {
        sqs.send_message()
            .queue_url(&q)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    // A dry run reports and changes nothing.
    let (code, lines) = redrive(&m, &["--queue-url", &q, "--dry-run"]);
    assert_eq!(code, 1, "{lines:?}");
    let would: Vec<&Value> = lines
        .iter()
        .filter(|l| l["outcome"] == "would replay")
        .collect();
    assert_eq!(would.len(), 1, "{lines:?}");
    assert_eq!(would[0]["records_found"], 5);

    // The real run: the batch is put again, the malformed message stays with its reason.
    let (code, lines) = redrive(&m, &["--queue-url", &q]);
    assert_eq!(code, 1, "a message was left: {lines:?}");
    let replayed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["outcome"] == "replayed")
        .collect();
    assert_eq!(replayed.len(), 1, "{lines:?}");
    assert_eq!(replayed[0]["records_found"], 5);
    assert_eq!(replayed[0]["condition"], "RetryAttemptsExhausted");
    let left: Vec<&Value> = lines.iter().filter(|l| l["outcome"] == "left").collect();
    assert_eq!(left.len(), 1);
    assert!(
        left[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not a Kinesis on-failure message"),
        "{left:?}"
    );

    // The stream now ends with records 5 to 9 again, same keys, same data, in order.
    let it = k
        .get_shard_iterator()
        .stream_name(STREAM)
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let all = k
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .unwrap()
        .records;
    assert_eq!(all.len(), 25);
    for (r, (car, _, line)) in all[20..].iter().zip(&sent[5..10]) {
        assert_eq!(r.partition_key.as_deref(), Some(car.as_str()));
        assert_eq!(r.data.as_ref(), line.as_bytes());
    }

    // Only the malformed message is left, visible again.
    let rest = sqs
        .receive_message()
        .queue_url(&q)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].body.as_deref(), Some("not json"));
    sqs.delete_message()
        .queue_url(&q)
        .receipt_handle(rest[0].receipt_handle.clone().unwrap())
        .send()
        .await
        .unwrap();

    // To a file for `burnbar replay`: the lines of the batch, the message kept.
    sqs.send_message()
        .queue_url(&q)
        .message_body(failure(&sent[0].1, &sent[2].1, 3))
        .send()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("redrive-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("batch.ndjson");
    let (code, lines) = redrive(&m, &["--queue-url", &q, "--out", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{lines:?}");
    let want: String = sent[..3].iter().map(|s| s.2.as_str()).collect();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), want);
    let kept = sqs
        .receive_message()
        .queue_url(&q)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(kept.len(), 1, "--out keeps the message");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_exit_2_naming_them() {
    let out = Command::new(env!("CARGO_BIN_EXE_burnbar-redrive"))
        .args(["--queue-url", "q", "--max-messages", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-messages"));
}
