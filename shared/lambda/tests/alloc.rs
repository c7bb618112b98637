//! Decoding a Kinesis event allocates per event, not per record (issue 18): a warm
//! function's decoder reuses its buffers, and nothing of a record is copied into a heap
//! block of its own. A counting allocator compares events of 10 and of 2,000 records.
#![cfg(feature = "kinesis-event")]

use std::sync::atomic::Ordering;

use burnbar_lambda::event::KinesisBatch;

use burnbar_testalloc::ALLOCS;

// The counter and its allocator: one home, `shared/testalloc`.
#[global_allocator]
static GLOBAL: burnbar_testalloc::Counting = burnbar_testalloc::Counting;

/// An event of `n` records with every field Lambda writes.
fn event(n: usize) -> Vec<u8> {
    let rec = |i: usize| {
        format!(
            r#"{{"kinesis":{{"kinesisSchemaVersion":"1.0","partitionKey":"19","sequenceNumber":"4959{i:052}","data":"eyJ2IjoxLCJjYXIiOiIxOSJ9","approximateArrivalTimestamp":1750593700.123}},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000000000000:4959{i:052}","eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::123456789012:role/r","awsRegion":"us-east-1","eventSourceARN":"arn:aws:kinesis:us-east-1:123456789012:stream/s"}}"#
        )
    };
    let recs: Vec<String> = (0..n).map(rec).collect();
    format!(r#"{{"Records":[{}]}}"#, recs.join(",")).into_bytes()
}

/// Allocations of one decode (and the records' list), warm.
fn allocs(body: &[u8]) -> u64 {
    KinesisBatch::from_slice(body).unwrap().recycle();
    let before = ALLOCS.load(Ordering::Relaxed);
    let b = KinesisBatch::from_slice(body).unwrap();
    let r = b.records();
    assert_eq!(r[0].data, br#"{"v":1,"car":"19"}"#);
    drop(r);
    b.recycle();
    ALLOCS.load(Ordering::Relaxed) - before
}

#[test]
fn decoding_allocates_per_event_not_per_record() {
    let (small, large) = (allocs(&event(10)), allocs(&event(2_000)));
    // The records' vectors grow by doubling: a few more reallocations for 200x the
    // records, none per record.
    assert!(
        large <= small + 24,
        "10 records: {small} allocations; 2,000 records: {large}"
    );
}
