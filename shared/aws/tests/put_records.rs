//! The shared `PutRecords` loop's policy against moto, with a proxy in front of it that
//! refuses chosen entries: moto accepts every entry of a call, so the partial failures
//! Kinesis produces under load (throughput, KMS, its own trouble) are injected here, and
//! everything the proxy lets through is stored by moto and read back.
//!
//! Each test holds: what was refused for a retried code lands once; what was refused for
//! good is reported with its reason and never sent again; attempts are bounded and later
//! calls wait for an earlier one that could not finish; a failed call is sent again only
//! as the policy says; a deadline ends the put.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_kinesis::Client;
use base64::Engine as _;
use burnbar_aws::put_records::{
    CallRetry, PutEntry, PutOutcome, PutPolicy, Refusal, RetryCodes, Stopped, THROUGHPUT_CODES,
    put_records,
};
use burnbar_aws::testkit::Moto;
use burnbar_testhttp::{HttpMsg, forward, serve_http};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// A fault proxy: HTTP/1.1 on 127.0.0.1, every request forwarded to moto except the
// entries and calls a test refuses.

fn json_answer(status: &str, body: Value) -> HttpMsg {
    HttpMsg {
        start: format!("HTTP/1.1 {status}"),
        headers: vec![("Content-Type".into(), "application/x-amz-json-1.1".into())],
        body: body.to_string().into_bytes(),
    }
}

/// Decides an entry's fate: its data and how many times the proxy saw it before; `Some`
/// refuses it with that error code.
type Refuse = dyn Fn(&str, usize) -> Option<&'static str> + Send + Sync;

struct Proxy {
    port: u16,
    /// Each `PutRecords` call that reached the proxy: its entries' data, in order.
    calls: Arc<Mutex<Vec<Vec<String>>>>,
}

impl Proxy {
    /// Fails the first `fail_calls` `PutRecords` calls whole (HTTP 500, `InternalFailure`),
    /// then refuses entries by `refuse` and forwards the rest to moto.
    fn start(moto_port: u16, fail_calls: usize, refuse: Box<Refuse>) -> Proxy {
        let calls: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let log = calls.clone();
        let port =
            serve_http(move |req| answer(moto_port, fail_calls, &req, &log, &seen, &*refuse));
        Proxy { port, calls }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many times an entry was sent.
    fn sent(&self, data: &str) -> usize {
        let calls = self.calls.lock().unwrap();
        calls.iter().flatten().filter(|d| *d == data).count()
    }

    fn call_sizes(&self) -> Vec<usize> {
        self.calls.lock().unwrap().iter().map(Vec::len).collect()
    }
}

fn answer(
    moto_port: u16,
    fail_calls: usize,
    req: &HttpMsg,
    log: &Mutex<Vec<Vec<String>>>,
    seen: &Mutex<HashMap<String, usize>>,
    refuse: &Refuse,
) -> HttpMsg {
    if !req
        .header("x-amz-target")
        .is_some_and(|t| t.ends_with(".PutRecords"))
    {
        return forward(moto_port, req);
    }
    let body: Value = serde_json::from_slice(&req.body).expect("PutRecords body is JSON");
    let records = body["Records"].as_array().cloned().unwrap_or_default();
    let data: Vec<String> = records
        .iter()
        .map(|r| {
            let d = base64::engine::general_purpose::STANDARD
                .decode(r["Data"].as_str().expect("Data"))
                .expect("base64");
            String::from_utf8(d).expect("UTF-8 test data")
        })
        .collect();
    let n_call = {
        let mut log = log.lock().unwrap();
        log.push(data.clone());
        log.len()
    };
    if n_call <= fail_calls {
        return json_answer(
            "500 Internal Server Error",
            json!({"__type": "InternalFailure", "message": "injected by the test proxy"}),
        );
    }
    let verdicts: Vec<Option<&str>> = {
        let mut seen = seen.lock().unwrap();
        data.iter()
            .map(|d| {
                let n = seen.entry(d.clone()).or_default();
                let v = refuse(d, *n);
                *n += 1;
                v
            })
            .collect()
    };
    let keep: Vec<Value> = records
        .iter()
        .zip(&verdicts)
        .filter(|(_, v)| v.is_none())
        .map(|(r, _)| r.clone())
        .collect();
    let mut accepted = if keep.is_empty() {
        Vec::new()
    } else {
        let mut b = body.clone();
        b["Records"] = Value::Array(keep);
        let resp = forward(moto_port, &req.with_body(b.to_string().into_bytes()));
        if !resp.start.contains(" 200 ") {
            // The call itself refused (no such stream): moto's answer as it is.
            return resp;
        }
        let v: Value = serde_json::from_slice(&resp.body).expect("moto's JSON");
        v["Records"].as_array().cloned().unwrap_or_default()
    }
    .into_iter();
    let mut failed = 0;
    let results: Vec<Value> = verdicts
        .iter()
        .map(|v| match v {
            Some(code) => {
                failed += 1;
                json!({"ErrorCode": code, "ErrorMessage": format!("{code} (injected)")})
            }
            None => accepted.next().expect("moto answered each entry"),
        })
        .collect();
    json_answer(
        "200 OK",
        json!({"FailedRecordCount": failed, "Records": results}),
    )
}

// ---------------------------------------------------------------------------------------

/// Moto, a one-shard stream `s` in it, and a Kinesis client through a proxy refusing by
/// `refuse`. The client's own retries are off, so that every retry seen is the loop's.
async fn rig(fail_calls: usize, refuse: Box<Refuse>) -> (Moto, Proxy, Client) {
    let moto = Moto::start();
    let direct = Client::new(&moto.sdk().await);
    direct
        .create_stream()
        .stream_name("s")
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let moto_port: u16 = moto.url.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = Proxy::start(moto_port, fail_calls, refuse);
    let conf = aws_sdk_kinesis::config::Builder::from(&moto.sdk().await)
        .endpoint_url(proxy.url())
        .retry_config(RetryConfig::disabled())
        .build();
    (moto, proxy, Client::from_conf(conf))
}

/// Every record the stream holds, in order.
async fn stored(moto: &Moto) -> Vec<String> {
    let k = Client::new(&moto.sdk().await);
    let it = k
        .get_shard_iterator()
        .stream_name("s")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let mut it = it.shard_iterator().map(str::to_owned);
    let mut out = Vec::new();
    while let Some(i) = it.take() {
        let r = k.get_records().shard_iterator(i).send().await.unwrap();
        if r.records().is_empty() {
            break;
        }
        for rec in r.records() {
            out.push(String::from_utf8(rec.data().as_ref().to_vec()).unwrap());
        }
        it = r.next_shard_iterator().map(str::to_owned);
    }
    out
}

fn policy(codes: RetryCodes, calls: CallRetry, max_attempts: u32) -> PutPolicy {
    PutPolicy {
        codes,
        calls,
        max_attempts,
        first_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        deadline: None,
    }
}

const THROUGHPUT: RetryCodes = RetryCodes::Only(THROUGHPUT_CODES);

async fn put(client: &Client, data: &[String], p: &PutPolicy) -> PutOutcome {
    let entries: Vec<PutEntry> = data
        .iter()
        .map(|d| PutEntry {
            key: "car-7",
            data: d.as_bytes(),
        })
        .collect();
    put_records(client, "s", &entries, p).await
}

fn data(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("e{i}")).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_refused_for_throughput_are_put_again_until_each_lands_once() {
    let (moto, proxy, k) = rig(
        0,
        Box::new(|d, seen| match d {
            "e3" | "e7" if seen < 2 => Some("ProvisionedThroughputExceededException"),
            "e11" if seen < 1 => Some("InternalFailure"),
            _ => None,
        }),
    )
    .await;
    let all = data(20);
    let o = put(&k, &all, &policy(THROUGHPUT, CallRetry::Transient, 4)).await;
    assert!(o.all_put(), "{:?}", o.stopped);
    assert_eq!(o.put.len(), 20);
    assert_eq!(proxy.call_sizes(), vec![20, 3, 2], "only the refused again");
    assert_eq!((o.calls, o.entries_retried, o.calls_retried), (3, 5, 0));
    assert_eq!(sorted(stored(&moto).await), sorted(all), "each once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_refused_for_good_is_reported_with_its_reason_and_never_sent_again() {
    let (moto, proxy, k) = rig(
        0,
        Box::new(|d, seen| match d {
            "e5" => Some("KMSAccessDeniedException"),
            "e2" if seen < 1 => Some("ProvisionedThroughputExceededException"),
            _ => None,
        }),
    )
    .await;
    let all = data(10);
    let o = put(&k, &all, &policy(THROUGHPUT, CallRetry::Transient, 4)).await;
    assert!(o.stopped.is_none(), "the others go on: {:?}", o.stopped);
    assert_eq!(
        o.refused,
        vec![Refusal {
            index: 5,
            code: "KMSAccessDeniedException".into(),
            message: "KMSAccessDeniedException (injected)".into(),
        }]
    );
    assert_eq!(proxy.sent("e5"), 1, "a permanent refusal is not retried");
    assert_eq!(proxy.sent("e2"), 2);
    let mut want = all.clone();
    want.remove(5);
    assert_eq!(sorted(stored(&moto).await), sorted(want));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_bounded_and_a_later_call_waits_for_the_one_that_could_not_finish() {
    // 501 entries: two calls (500 + 1). The first entry is refused every time.
    let (moto, proxy, k) = rig(
        0,
        Box::new(|d, _| (d == "e0").then_some("ProvisionedThroughputExceededException")),
    )
    .await;
    let all = data(501);
    let o = put(&k, &all, &policy(THROUGHPUT, CallRetry::Transient, 3)).await;
    match &o.stopped {
        Some(Stopped::Attempts { max_attempts, last }) => {
            assert_eq!(*max_attempts, 3);
            assert_eq!(last.len(), 1);
            assert_eq!(last[0].index, 0);
            assert_eq!(last[0].code, "ProvisionedThroughputExceededException");
        }
        other => panic!("stopped by attempts, not {other:?}"),
    }
    assert_eq!(proxy.sent("e0"), 3, "exactly max_attempts sends");
    assert_eq!(o.unput, vec![0, 500], "the second call was never sent");
    assert_eq!(proxy.call_sizes(), vec![500, 1, 1]);
    assert_eq!(o.put.len(), 499);
    assert_eq!(stored(&moto).await.len(), 499);

    // Redrive's policy (every code retried) is bounded the same way: a code that is
    // permanent for the writer is put again, up to the attempts.
    let (_moto, proxy, k) = rig(
        0,
        Box::new(|d, _| (d == "e1").then_some("KMSAccessDeniedException")),
    )
    .await;
    let o = put(&k, &data(4), &policy(RetryCodes::All, CallRetry::Any, 5)).await;
    assert!(o.refused.is_empty());
    assert!(matches!(o.stopped, Some(Stopped::Attempts { .. })));
    assert_eq!(o.unput, vec![1]);
    assert_eq!(proxy.sent("e1"), 5);
    assert_eq!(o.entries_retried, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_call_is_sent_again_only_as_the_policy_says() {
    // The first call fails whole (HTTP 500): the tools' policy sends it again.
    let (moto, proxy, k) = rig(1, Box::new(|_, _| None)).await;
    let all = data(6);
    let o = put(&k, &all, &policy(THROUGHPUT, CallRetry::Transient, 4)).await;
    assert!(o.all_put(), "{:?}", o.stopped);
    assert_eq!((o.calls, o.calls_retried, o.entries_retried), (2, 1, 0));
    assert_eq!(proxy.call_sizes(), vec![6, 6]);
    assert_eq!(sorted(stored(&moto).await), sorted(all.clone()));

    // The writer's policy leaves the classification to its caller: stopped, nothing put.
    let (moto, _proxy, k) = rig(1, Box::new(|_, _| None)).await;
    let o = put(&k, &all, &policy(THROUGHPUT, CallRetry::Never, 4)).await;
    let Some(Stopped::Call(e)) = &o.stopped else {
        panic!("stopped by the call, not {:?}", o.stopped)
    };
    assert!(
        aws_sdk_kinesis::error::DisplayErrorContext(e.as_ref())
            .to_string()
            .contains("InternalFailure"),
        "{e:?}"
    );
    assert_eq!(o.calls, 1);
    assert_eq!(o.unput, (0..6).collect::<Vec<_>>());
    assert!(stored(&moto).await.is_empty());

    // A stream that is not there is not transient: one call, reported.
    let (_moto, proxy, k) = rig(0, Box::new(|_, _| None)).await;
    let entries = [PutEntry {
        key: "k",
        data: b"x",
    }];
    let o = put_records(
        &k,
        "no-such-stream",
        &entries,
        &policy(THROUGHPUT, CallRetry::Transient, 4),
    )
    .await;
    let Some(s @ Stopped::Call(_)) = &o.stopped else {
        panic!("stopped by the call, not {:?}", o.stopped)
    };
    assert!(s.to_string().contains("ResourceNotFoundException"), "{s}");
    assert_eq!(proxy.call_sizes(), vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_ends_the_put_before_the_attempts_do() {
    let (_moto, proxy, k) = rig(
        0,
        Box::new(|d, _| (d == "e0").then_some("ProvisionedThroughputExceededException")),
    )
    .await;
    let p = PutPolicy {
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(100),
        deadline: Some(tokio::time::Instant::now() + Duration::from_millis(250)),
        ..policy(THROUGHPUT, CallRetry::Transient, 1000)
    };
    let o = put(&k, &data(3), &p).await;
    assert!(
        matches!(o.stopped, Some(Stopped::Deadline)),
        "{:?}",
        o.stopped
    );
    assert_eq!(o.unput, vec![0]);
    assert_eq!(o.put.len(), 2);
    // 100 ms apart within 250 ms: a handful of sends, nowhere near the 1,000 attempts.
    assert!(proxy.sent("e0") <= 4, "{}", proxy.sent("e0"));
}
