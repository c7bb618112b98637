//! `burnbar-redrive`: replays the Kinesis batches behind the on-failure messages in the
//! stack's `FailedBatchQueue`, while the streams still hold them. See `docs/operations.md`.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use aws_config::BehaviorVersion;
use burnbar_redrive::{FailedBatch, Found, parse_failure, put_again, read_batch};
use clap::Parser;
use serde_json::json;

/// Replays the records behind the functions' on-failure messages: each message names a
/// stream, a shard and a sequence range; the records are read back from the stream and put
/// on it again with their partition keys (or written to a file for `burnbar replay`). A
/// message is deleted once its whole batch was replayed; the rest stay in the queue.
/// One JSON line per message on standard output. Exit status: 0 every message taken was
/// replayed, 1 some were left in the queue (the line says why), 2 bad arguments.
#[derive(Parser, Debug)]
#[command(name = "burnbar-redrive", version)]
struct Args {
    /// The on-failure queue's URL (the stack's `FailedBatchQueueUrl` output).
    #[arg(long)]
    queue_url: String,
    /// Messages to take at most in this run (1-10000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    max_messages: u32,
    /// Write the records' lines to this NDJSON file (for `burnbar replay`) instead of putting
    /// them back on their stream; the messages stay in the queue.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only report what each message names and how much of it the stream still holds.
    #[arg(long)]
    dry_run: bool,
    /// Replay and delete a message even when the stream no longer holds its whole batch
    /// (retention passed for part of it).
    #[arg(long)]
    accept_partial: bool,
    /// Seconds a taken message stays hidden from other readers while it is redriven
    /// (1-43200); messages not deleted are made visible again at the end.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(i32).range(1..=43_200))]
    visibility_timeout: i32,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    match run(&args, &sqs, &kinesis).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("burnbar-redrive: {e}");
            ExitCode::from(1)
        }
    }
}

/// What became of one message.
enum Outcome {
    Replayed,
    Left(String),
}

async fn run(
    args: &Args,
    sqs: &aws_sdk_sqs::Client,
    kinesis: &aws_sdk_kinesis::Client,
) -> Result<bool, String> {
    let mut seen = HashSet::new();
    let mut left = Vec::new();
    let mut lines: Vec<u8> = Vec::new();
    let (mut replayed, mut kept) = (0, 0);
    'receive: while seen.len() < args.max_messages as usize {
        let want = (args.max_messages as usize - seen.len()).min(10) as i32;
        let got = sqs
            .receive_message()
            .queue_url(&args.queue_url)
            .max_number_of_messages(want)
            .visibility_timeout(args.visibility_timeout)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "reading {}: {}",
                    args.queue_url,
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                )
            })?;
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            let id = m.message_id.clone().unwrap_or_default();
            let receipt = m.receipt_handle.clone().unwrap_or_default();
            if !seen.insert(id.clone()) {
                // Seen already in this run (its visibility ran out): the queue has been
                // gone through.
                left.push(receipt);
                break 'receive;
            }
            let body = m.body.as_deref().unwrap_or("");
            let (batch, outcome, found) = match parse_failure(body) {
                Err(reason) => (None, Outcome::Left(reason), None),
                Ok(b) => match read_batch(kinesis, &b).await {
                    Err(e) => (Some(b), Outcome::Left(e.to_string()), None),
                    Ok(found) => {
                        let o = replay(args, kinesis, &b, &found, &mut lines).await;
                        (Some(b), o, Some(found))
                    }
                },
            };
            report(&id, batch.as_ref(), found.as_ref(), &outcome, args);
            match outcome {
                Outcome::Replayed if args.out.is_none() && !args.dry_run => {
                    sqs.delete_message()
                        .queue_url(&args.queue_url)
                        .receipt_handle(&receipt)
                        .send()
                        .await
                        .map_err(|e| {
                            format!(
                                "deleting message {id}: {}",
                                aws_sdk_sqs::error::DisplayErrorContext(e)
                            )
                        })?;
                    replayed += 1;
                }
                Outcome::Replayed => {
                    replayed += 1;
                    left.push(receipt);
                }
                Outcome::Left(_) => {
                    kept += 1;
                    left.push(receipt);
                }
            }
        }
    }
    // Messages not deleted are visible again at once, for the next run or the alarm.
    for receipt in left {
        let _ = sqs
            .change_message_visibility()
            .queue_url(&args.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await;
    }
    if let Some(path) = &args.out {
        write_atomically(path, &lines).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    eprintln!(
        "burnbar-redrive: {} messages read, {replayed} replayed{}, {kept} left in the queue",
        seen.len(),
        if args.dry_run {
            " (dry run: nothing put)"
        } else {
            ""
        }
    );
    Ok(kept == 0)
}

/// Replays one batch's records (or, with `--out`, keeps their lines).
async fn replay(
    args: &Args,
    kinesis: &aws_sdk_kinesis::Client,
    b: &FailedBatch,
    found: &Found,
    lines: &mut Vec<u8>,
) -> Outcome {
    if !found.complete() && !args.accept_partial {
        return Outcome::Left(format!(
            "the stream holds {} of the batch's {} records{}{} (retention passed?); \
             --accept-partial replays what is left",
            found.records.len(),
            b.batch_size,
            if found.has_start {
                ""
            } else {
                ", not its first"
            },
            if found.has_end { "" } else { ", not its last" },
        ));
    }
    if args.dry_run {
        return Outcome::Replayed;
    }
    if args.out.is_some() {
        for r in &found.records {
            lines.extend_from_slice(&r.data);
            if !r.data.ends_with(b"\n") {
                lines.push(b'\n');
            }
        }
        return Outcome::Replayed;
    }
    match put_again(kinesis, &b.stream_name, &found.records).await {
        Ok(()) => Outcome::Replayed,
        Err(e) => Outcome::Left(e.to_string()),
    }
}

fn report(id: &str, b: Option<&FailedBatch>, found: Option<&Found>, o: &Outcome, args: &Args) {
    let mut line = json!({
        "message_id": id,
        "outcome": match o {
            Outcome::Replayed if args.dry_run => "would replay",
            Outcome::Replayed if args.out.is_some() => "written",
            Outcome::Replayed => "replayed",
            Outcome::Left(_) => "left",
        },
    });
    if let Outcome::Left(reason) = o {
        line["reason"] = json!(reason);
    }
    if let Some(b) = b {
        line["stream"] = json!(b.stream_name);
        line["shard"] = json!(b.shard_id);
        line["start"] = json!(b.start_seq);
        line["end"] = json!(b.end_seq);
        line["batch_size"] = json!(b.batch_size);
        line["condition"] = json!(b.condition);
    }
    if let Some(f) = found {
        line["records_found"] = json!(f.records.len());
    }
    println!("{line}");
}

/// Writes beside the target and renames, so a failed run leaves an earlier file whole.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("redrive-{}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
