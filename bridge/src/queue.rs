//! The bounded queue between NATS and Kinesis, and the packing of its messages into
//! Kinesis records and `PutRecords` batches.
//!
//! # Bounded by bytes, until Kinesis accepted
//!
//! Every message takes a share of one byte budget (a semaphore) when it is queued and
//! gives it back only when it is finished with (accepted by Kinesis and acknowledged, or
//! dropped). So the budget bounds everything the bridge holds, in flight included, and
//! memory stays flat under any load. A message's charge is its size plus
//! [`ITEM_OVERHEAD`], so a flood of tiny messages is bounded too.
//!
//! # Packing
//!
//! A chunk of messages becomes records: consecutive samples of one car (events of one
//! race) are joined as NDJSON into one record, up to `PACK_MAX_BYTES`, in arrival order.
//! Records are created in the order of their first message and batches keep that order,
//! and Kinesis writes a call's records in request order, so each key's order survives.

use std::sync::Arc;
use std::time::Instant;

use async_nats::jetstream::message::Acker;
use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::stats::Stats;

/// Bytes charged per message on top of its payload: the item, its key and its map slot.
pub const ITEM_OVERHEAD: usize = 128;

/// One message on its way: its partition key, its bytes, and how to acknowledge it.
pub struct Item {
    pub key: String,
    pub data: Bytes,
    pub ack: Option<Acker>,
    pub received: Instant,
    _held: Held,
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Item")
            .field("key", &self.key)
            .field("bytes", &self.data.len())
            .field("jetstream", &self.ack.is_some())
            .finish()
    }
}

/// The message's share of the budget; returned (and the depth lowered) on drop.
#[derive(Debug)]
struct Held {
    _permit: OwnedSemaphorePermit,
    bytes: u64,
    stats: Arc<Stats>,
}

impl Drop for Held {
    fn drop(&mut self) {
        Stats::add_neg(&self.stats.queue_messages, 1);
        Stats::add_neg(&self.stats.queue_bytes, self.bytes);
    }
}

/// The budget shared by both streams' queues.
#[derive(Debug, Clone)]
pub struct Budget {
    sem: Arc<Semaphore>,
    max: usize,
    stats: Arc<Stats>,
}

/// What was not queued, and why.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The budget is spent.
    Full,
    /// The writer is gone (shutting down).
    Closed,
}

impl Budget {
    pub fn new(max_bytes: usize, stats: Arc<Stats>) -> Budget {
        Budget {
            sem: Arc::new(Semaphore::new(max_bytes)),
            max: max_bytes,
            stats,
        }
    }

    /// Share of the budget in use, 0 to 1: the backlog that sampling adapts to.
    pub fn fill(&self) -> f64 {
        1.0 - self.sem.available_permits() as f64 / self.max as f64
    }

    fn charge(len: usize) -> u32 {
        (len + ITEM_OVERHEAD).min(u32::MAX as usize) as u32
    }

    fn item(
        &self,
        permit: OwnedSemaphorePermit,
        key: String,
        data: Bytes,
        ack: Option<Acker>,
        received: Instant,
    ) -> Item {
        let bytes = permit.num_permits() as u64;
        Stats::inc(&self.stats.queue_messages);
        Stats::add(&self.stats.queue_bytes, bytes);
        Item {
            key,
            data,
            ack,
            received,
            _held: Held {
                _permit: permit,
                bytes,
                stats: self.stats.clone(),
            },
        }
    }

    /// Queues without waiting: refused when the budget is spent (core NATS, where
    /// waiting would only move the loss into the client's buffer, uncounted).
    pub fn try_push(
        &self,
        tx: &mpsc::UnboundedSender<Item>,
        key: String,
        data: Bytes,
        ack: Option<Acker>,
        received: Instant,
    ) -> Result<(), Refused> {
        let permit = self
            .sem
            .clone()
            .try_acquire_many_owned(Budget::charge(data.len()))
            .map_err(|_| Refused::Full)?;
        let item = self.item(permit, key, data, ack, received);
        tx.send(item).map_err(|_| Refused::Closed)
    }

    /// Queues, waiting for room (race-control events, and JetStream, where the server
    /// keeps what the bridge has not pulled).
    pub async fn push(
        &self,
        tx: &mpsc::UnboundedSender<Item>,
        key: String,
        data: Bytes,
        ack: Option<Acker>,
        received: Instant,
    ) -> Result<(), Refused> {
        let permit = self
            .sem
            .clone()
            .acquire_many_owned(Budget::charge(data.len()))
            .await
            .map_err(|_| Refused::Closed)?;
        let item = self.item(permit, key, data, ack, received);
        tx.send(item).map_err(|_| Refused::Closed)
    }
}

/// One Kinesis record: a partition key, NDJSON data, and the messages inside it.
#[derive(Debug)]
pub struct Entry {
    pub key: String,
    pub data: Vec<u8>,
    pub items: Vec<Item>,
}

impl Entry {
    /// What the record counts against the per-call limit: data plus partition key.
    pub fn size(&self) -> usize {
        self.data.len() + self.key.len()
    }
}

/// Packs messages into records per key, in order, each at most `max_bytes` of data (a
/// single larger message gets a record of its own; it is within the record limit, as
/// `MAX_MESSAGE_BYTES` ensures).
pub fn pack(items: Vec<Item>, max_bytes: usize) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut open: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for mut item in items {
        let line = crate::route::trim_newline(&item.data).to_vec();
        item.data = Bytes::new();
        let slot = open.get(&item.key).copied().filter(|&i| {
            let e = &entries[i];
            e.data.len() + 1 + line.len() <= max_bytes
        });
        match slot {
            Some(i) => {
                let e = &mut entries[i];
                e.data.push(b'\n');
                e.data.extend_from_slice(&line);
                e.items.push(item);
            }
            None => {
                open.insert(item.key.clone(), entries.len());
                entries.push(Entry {
                    key: item.key.clone(),
                    data: line,
                    items: vec![item],
                });
            }
        }
    }
    entries
}

/// Splits records into `PutRecords` calls of at most `max_records` records and
/// `max_bytes` bytes, keeping their order.
pub fn batches(entries: Vec<Entry>, max_records: usize, max_bytes: usize) -> Vec<Vec<Entry>> {
    let mut out: Vec<Vec<Entry>> = Vec::new();
    let mut cur: Vec<Entry> = Vec::new();
    let mut bytes = 0;
    for e in entries {
        if !cur.is_empty() && (cur.len() == max_records || bytes + e.size() > max_bytes) {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        bytes += e.size();
        cur.push(e);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(budget: &Budget, keys_and_lines: &[(&str, &str)]) -> Vec<Item> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for (k, l) in keys_and_lines {
            budget
                .try_push(
                    &tx,
                    (*k).to_owned(),
                    Bytes::from(format!("{l}\n")),
                    None,
                    Instant::now(),
                )
                .unwrap();
        }
        drop(tx);
        let mut v = Vec::new();
        while let Ok(i) = rx.try_recv() {
            v.push(i);
        }
        v
    }

    #[test]
    fn packing_keeps_each_keys_order_and_respects_the_size() {
        let stats = Stats::new();
        let budget = Budget::new(1 << 20, stats.clone());
        let v = items(
            &budget,
            &[
                ("1", "a1"),
                ("2", "b1"),
                ("1", "a2"),
                ("1", "a3"),
                ("2", "b2"),
            ],
        );
        assert_eq!(
            stats
                .queue_messages
                .load(std::sync::atomic::Ordering::Relaxed),
            5
        );
        let e = pack(v, 5);
        let got: Vec<(&str, &str)> = e
            .iter()
            .map(|e| (e.key.as_str(), std::str::from_utf8(&e.data).unwrap()))
            .collect();
        assert_eq!(got, [("1", "a1\na2"), ("2", "b1\nb2"), ("1", "a3")]);
        assert_eq!(e[0].items.len(), 2);
        drop(e);
        // Every message gave its budget back.
        assert_eq!(budget.fill(), 0.0);
        assert_eq!(
            stats
                .queue_messages
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
    }

    #[test]
    fn batches_respect_record_and_byte_limits() {
        let budget = Budget::new(1 << 20, Stats::new());
        let lines: Vec<(String, String)> =
            (0..7).map(|i| (format!("{i}"), "x".repeat(99))).collect();
        let refs: Vec<(&str, &str)> = lines
            .iter()
            .map(|(k, l)| (k.as_str(), l.as_str()))
            .collect();
        let e = pack(items(&budget, &refs), 1000);
        let b = batches(e, 3, 250);
        // 100 bytes a record (99 + key): two fit in 250 bytes.
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2, 1]);
        let e = pack(items(&budget, &refs), 1000);
        let b = batches(e, 3, 10_000);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    }

    #[test]
    fn a_spent_budget_refuses_without_waiting() {
        let budget = Budget::new(300, Stats::new());
        let (tx, _rx) = mpsc::unbounded_channel();
        let t = Instant::now();
        assert!(
            budget
                .try_push(&tx, "1".into(), Bytes::from_static(b"x"), None, t)
                .is_ok()
        );
        assert!(
            budget
                .try_push(&tx, "1".into(), Bytes::from_static(b"x"), None, t)
                .is_ok()
        );
        assert_eq!(
            budget.try_push(&tx, "1".into(), Bytes::from_static(b"x"), None, t),
            Err(Refused::Full)
        );
    }
}
