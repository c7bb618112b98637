//! `scripts/race-cost` (docs/cost.md) on a rehearsal of known counts: every count is
//! scaled to the whole race, Lambda's GB-seconds come from the measured durations
//! (rounded up to the millisecond, as billed) at each function's MemorySize in the
//! template, DynamoDB's write units from the functions' own metric, and the race's total
//! is the sum of its rows.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

#[test]
fn the_cost_table_is_derived_from_the_rehearsals_metrics() {
    let dir = std::env::temp_dir().join(format!("burnbar-race-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cars: Vec<String> = (1..=40).map(|c| c.to_string()).collect();
    let reh = json!({
        "race_ms": 100_000, "full_race_s": 1_000.0,
        "telemetry": {"on_demand_kib": 1024, "payload_units": 100, "records": 1000},
        "race_control": {"on_demand_kib": 1, "payload_units": 1, "records": 1},
        "telemetry_shards": 1, "writer_requests": 50, "writer_mutations": 60,
        "writer_message_units": 70, "cars": cars,
    });
    std::fs::write(dir.join("rehearsal.json"), reh.to_string()).unwrap();
    let emf = |name: &str, v: Value| {
        let mut v = v;
        v["_aws"] = json!({"Timestamp": 0, "CloudWatchMetrics": [{"Namespace": "burnbar",
            "Dimensions": [["Function"]], "Metrics": [{"Name": name, "Unit": "Count"}]}]});
        v.to_string()
    };
    let tp = [
        emf(
            "write_units_total",
            json!({"invocation_latency_ms": 999.2, "write_units_total": 10.0,
            "window_close_to_ack_ms": [100.0, 200.0]}),
        ),
        emf(
            "write_units_total",
            json!({"invocation_latency_ms": 1000.0, "write_units_total": 10.0}),
        ),
        "not an EMF line".to_owned(),
    ];
    std::fs::write(dir.join("telemetry-processor.emf"), tp.join("\n")).unwrap();
    let rc = emf(
        "write_units_total",
        json!({"invocation_latency_ms": 10.0, "write_units_total": 1.0}),
    );
    std::fs::write(dir.join("race-control.emf"), rc).unwrap();
    let template = "Globals:\n  Function:\n    Runtime: provided.al2023\n    MemorySize: 512\n\nResources:\n  TelemetryProcessorFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      Timeout: 30\n  RaceControlFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      MemorySize: 1024\n  AppSyncWriterFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      MemorySize: 256\n\nOutputs:\n  X:\n    Value: 1\n";
    std::fs::write(dir.join("template.yaml"), template).unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/race-cost");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&dir)
        .arg("--template")
        .arg(dir.join("template.yaml"))
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["scale"], 10.0);
    let rows = r["rows"].as_array().unwrap();
    let count = |what: &str| {
        rows.iter()
            .find(|x| x["what"].as_str().unwrap().starts_with(what))
            .unwrap_or_else(|| panic!("no row {what}: {rows:?}"))["count"]
            .as_f64()
            .unwrap()
    };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6 * b.abs().max(1.0);
    assert!(close(count("telemetry-processor invocations"), 20.0));
    // (1000 + 1000) ms at 512 MB, ten times.
    assert!(close(count("telemetry-processor GB-s (512 MB"), 10.0));
    // 10 ms at the function's own 1024 MB, ten times.
    assert!(close(count("race-control GB-s (1024 MB"), 0.1));
    assert!(close(count("appsync-writer invocations"), 500.0));
    assert!(close(count("write request units"), 210.0));
    assert!(close(count("mutations"), 600.0));
    assert!(close(
        count("real-time messages to 50 viewers"),
        70.0 * 50.0 * 10.0
    ));
    assert!(close(count("data in"), 1025.0 * 10.0 / 1024.0 / 1024.0));
    let on_demand: f64 = rows
        .iter()
        .filter(|x| !x["service"].as_str().unwrap().starts_with("Kinesis (prov"))
        .map(|x| x["cost"].as_f64().unwrap())
        .sum();
    assert!(close(r["race_on_demand"].as_f64().unwrap(), on_demand));
    assert_eq!(r["window_close_to_ack_ms"]["windows"], 2);
    assert!(close(
        r["flink_month"].as_f64().unwrap(),
        2.0 * 730.0 * 0.11 + 5.0
    ));
    // The Markdown table names the baseline and the targets.
    let md = Command::new("python3")
        .arg(&script)
        .arg(&dir)
        .arg("--template")
        .arg(dir.join("template.yaml"))
        .output()
        .unwrap();
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(
        md.contains("| service | what | count | unit price | cost (USD) |"),
        "{md}"
    );
    assert!(
        md.contains("Managed Flink 1 KPU + 1 orchestration KPU"),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
