//! What the operators see: the state, quarantine and their alarms, the alarm on an
//! undecodable car item, and the dashboard of every alarm and the emitted metrics.

use super::*;

#[test]
fn state_quarantine_apis_and_alarms_are_as_the_pipeline_needs() {
    let t = template();
    let tables = resources(&t, "AWS::DynamoDB::Table");
    let names: Vec<&str> = tables.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["PublishedTable", "StateTable"]);
    // Both expire their items by the same attribute (the resolvers write it too).
    for (name, table) in &tables {
        let p = &table["Properties"];
        assert_eq!(p["BillingMode"], "PAY_PER_REQUEST", "{name}");
        assert_eq!(
            p["TimeToLiveSpecification"]["AttributeName"], "expires_at",
            "{name}"
        );
    }
    let table = &t["Resources"]["StateTable"];
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(p["TimeToLiveSpecification"]["AttributeName"], "expires_at");
    assert_eq!(p["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    // The two input streams always; the downstream stream only when asked for.
    let streams = resources(&t, "AWS::Kinesis::Stream");
    let always: Vec<&String> = streams
        .iter()
        .filter(|(_, s)| s.get("Condition").is_none())
        .map(|(n, _)| n)
        .collect();
    assert_eq!(always, ["RaceControlStream", "TelemetryStream"]);
    assert!(t["Resources"]["QuarantineQueue"]["Type"] == "AWS::SQS::Queue");
    // The writer API takes IAM-signed requests only.
    assert_eq!(
        t["Resources"]["WriterApi"]["Properties"]["Auth"]["DefaultAuthorizer"],
        "AWS_IAM"
    );
    // AppSync serves the schema file the local dashboard server serves.
    assert_eq!(
        t["Resources"]["AppSyncSchema"]["Properties"]["DefinitionS3Location"],
        "schema.graphql"
    );
    let api = &t["Resources"]["AppSyncApi"]["Properties"];
    assert_eq!(api["AuthenticationType"], "AWS_IAM");
    assert_eq!(
        api["AdditionalAuthenticationProviders"][0]["AuthenticationType"],
        "API_KEY"
    );
    // The SageMaker endpoint is optional (empty = physics only).
    assert_eq!(t["Parameters"]["SageMakerEndpointName"]["Default"], "");
    // Single-metric alarms (the key-expiry alarm is metric math, checked on its own).
    let alarms: Vec<String> = resources(&t, "AWS::CloudWatch::Alarm")
        .iter()
        .filter(|(_, a)| a["Properties"]["Metrics"].is_null())
        .map(|(_, a)| {
            format!(
                "{}/{}",
                a["Properties"]["Namespace"].as_str().unwrap(),
                a["Properties"]["MetricName"].as_str().unwrap()
            )
        })
        .collect();
    for m in [
        "AWS/Lambda/IteratorAge",
        "AWS/Lambda/Errors",
        "AWS/Lambda/Throttles",
        "AWS/DynamoDB/ThrottledRequests",
        "AWS/SQS/ApproximateNumberOfMessagesVisible",
    ] {
        assert!(alarms.iter().any(|a| a == m), "no alarm on {m}: {alarms:?}");
    }
}

/// A car item this build cannot read quarantines that car's samples and nothing repairs
/// it by itself: an alarm on `cars_undecodable_total` of both stream functions (the EMF
/// metric each really emits, under the dimension value each really writes), firing on
/// the first one.
#[test]
fn an_undecodable_car_item_raises_an_alarm_from_either_stream_function() {
    let t = template();
    let a = &t["Resources"]["CarStateUndecodableAlarm"];
    assert_eq!(a["Type"], "AWS::CloudWatch::Alarm");
    let p = &a["Properties"];
    let metrics = p["Metrics"]
        .as_array()
        .expect("metric math over both functions");
    let mut functions = Vec::new();
    for m in metrics.iter().filter(|m| m["ReturnData"] == false) {
        let ms = &m["MetricStat"];
        assert_eq!(ms["Metric"]["Namespace"], "burnbar");
        assert_eq!(ms["Metric"]["MetricName"], "cars_undecodable_total");
        assert_eq!(ms["Stat"], "Sum");
        let d = &ms["Metric"]["Dimensions"][0];
        assert_eq!(d["Name"], "Function");
        functions.push(d["Value"].as_str().unwrap().to_owned());
    }
    functions.sort();
    assert_eq!(functions, ["race-control", "telemetry-processor"]);
    let expr = metrics.iter().find(|m| m["ReturnData"] == true).unwrap()["Expression"]
        .as_str()
        .unwrap();
    assert!(
        expr.contains("FILL(processor, 0)") && expr.contains("FILL(control, 0)"),
        "either function alone raises it: {expr}"
    );
    assert_eq!(p["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(num(&p["Threshold"]), Some(0.0), "the first car");
    assert_eq!(p["TreatMissingData"], "notBreaching");
    assert!(p["AlarmActions"].is_object(), "notifies the alarm topic");

    // What the alarm reads is what the code writes: the metric by both handlers, the
    // dimension values as the functions' names.
    let src = rust_sources();
    assert!(src.contains("\"cars_undecodable_total\""));
    for f in &functions {
        assert!(
            src.contains(&format!("const FUNCTION: &str = \"{f}\";")),
            "{f}"
        );
    }
    let ops = std::fs::read_to_string(root().join("docs/operations.md")).unwrap();
    assert!(ops.contains("| `CarStateUndecodable` |"), "documented");
}

/// The names in `RejectCode::as_str` (shared/core): each is a quarantine reason and a
/// metric `records_rejected_<reason>_total`.
fn reject_reasons() -> Vec<String> {
    let src = std::fs::read_to_string(root().join("shared/core/src/contract.rs")).unwrap();
    let mut out: Vec<String> = src
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("RejectCode::")?;
            let (_, name) = rest.split_once("=> \"")?;
            Some(name.trim_end_matches("\",").to_owned())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Metrics the dashboard shows that the code does not emit yet (each a known gap, named
/// in docs/operations.md). Remove a name when the code starts emitting it.
const NOT_YET_EMITTED: &[&str] = &[];

/// Issue 16 item 3: one dashboard with every alarm linked and the race-day metrics, each
/// of them a metric the functions or the bridge really emit (or a known gap).
#[test]
fn the_operator_dashboard_links_every_alarm_and_shows_emitted_metrics() {
    let t = template();
    let dash: Vec<(String, Value)> = resources(&t, "AWS::CloudWatch::Dashboard");
    assert_eq!(dash.len(), 1, "one dashboard");
    let body = dash[0].1["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("DashboardBody: !Sub of the JSON");
    let d: Value = serde_json::from_str(body).expect("the dashboard body is JSON");
    let widgets = d["widgets"].as_array().unwrap();

    // Every alarm of the template, in an alarm widget.
    let linked: Vec<String> = widgets
        .iter()
        .filter(|w| w["type"] == "alarm")
        .flat_map(|w| w["properties"]["alarms"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    for (name, a) in resources(&t, "AWS::CloudWatch::Alarm") {
        assert!(
            a.get("Condition").is_none(),
            "{name}: conditional alarms cannot be linked"
        );
        assert!(
            linked.contains(&format!("${{{name}.Arn}}")),
            "alarm {name} is not on the dashboard: {linked:?}"
        );
    }

    // The metrics, as (namespace, name, dimension value).
    let mut shown: Vec<(String, String, String)> = Vec::new();
    for w in widgets.iter().filter(|w| w["type"] == "metric") {
        for m in w["properties"]["metrics"].as_array().unwrap() {
            let m = m.as_array().unwrap();
            let s = |i: usize| m[i].as_str().unwrap_or("").to_owned();
            shown.push((s(0), s(1), s(3)));
        }
    }
    let has = |ns: &str, name: &str| shown.iter().any(|(n, m, _)| n == ns && m == name);
    for (ns, name) in [
        ("burnbar", "records_in_total"),
        ("AWS/Lambda", "IteratorAge"),
        ("burnbar", "window_close_to_ack_ms"),
        ("burnbar", "predictor_fallbacks_total"),
        ("burnbar", "conditional_write_retries_total"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Errors"),
        ("burnbar", "publish_failures_total"),
        ("burnbar", "queue_depth_messages"),
        ("burnbar", "oldest_message_age_ms"),
    ] {
        assert!(has(ns, name), "{ns}/{name} not on the dashboard");
    }
    let reasons = reject_reasons();
    assert!(reasons.len() >= 12, "{reasons:?}");
    for fn_name in ["telemetry-processor", "race-control"] {
        for r in &reasons {
            let metric = format!("records_rejected_{r}_total");
            assert!(
                shown
                    .iter()
                    .any(|(n, m, d)| n == "burnbar" && *m == metric && d == fn_name),
                "quarantine reason {r} of {fn_name} not on the dashboard"
            );
        }
    }

    // Each burnbar metric is one the code writes (by its name, or a rejection reason).
    let src = rust_sources();
    for (ns, name, dim) in shown.iter().filter(|(n, _, _)| n == "burnbar") {
        let by_reason = name
            .strip_prefix("records_rejected_")
            .and_then(|r| r.strip_suffix("_total"))
            .is_some_and(|r| reasons.iter().any(|x| x == r));
        let emitted = src.contains(&format!("\"{name}\"")) || by_reason;
        if NOT_YET_EMITTED.contains(&name.as_str()) {
            assert!(
                !emitted,
                "{name} is emitted now: take it off NOT_YET_EMITTED"
            );
        } else {
            assert!(emitted, "{ns}/{name} ({dim}): no code emits it");
        }
        // The dimension values the code uses: the functions' names, the bridge's service.
        assert!(
            [
                "telemetry-processor",
                "race-control",
                "appsync-writer",
                "bridge"
            ]
            .contains(&dim.as_str()),
            "{name}: dimension {dim}"
        );
        assert!(src.contains(&format!("\"{dim}\"")), "{dim}");
    }
}
