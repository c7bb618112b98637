//! `template.yaml`: clean under `cfn-lint` and `sam validate --lint`, the reliability
//! settings the pipeline relies on are present, and each function points `sam build` at
//! its own crate, so nobody drops them later (`scripts/test-all` runs `sam build` itself).
//!
//! The template is read through cfn-lint's own decoder (it understands `!Ref`, `!GetAtt`
//! and the other short forms); the README's test command installs cfn-lint and the SAM
//! CLI (`scripts/setup-lambda`).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .current_dir(root())
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .unwrap_or_else(|e| panic!("{cmd} did not run ({e}): run `bash scripts/setup-lambda`"))
}

fn template() -> Value {
    let out = run(
        "python3",
        &[
            "-c",
            "import json,sys\nfrom cfnlint.decode import decode_str\nt,m=decode_str(open('template.yaml').read())\nassert not m, m\nprint(json.dumps(t))",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn resources(t: &Value, ty: &str) -> Vec<(String, Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect()
}

#[test]
fn cfn_lint_and_sam_validate_are_clean() {
    let out = run("cfn-lint", &["template.yaml"]);
    assert!(
        out.status.success(),
        "cfn-lint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run("sam", &["validate", "--lint", "--region", "us-east-1"]);
    assert!(
        out.status.success(),
        "sam validate --lint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kinesis_event_sources_keep_their_reliability_settings() {
    let t = template();
    let mut seen = 0;
    for (name, f) in resources(&t, "AWS::Serverless::Function") {
        let Some(events) = f["Properties"]["Events"].as_object() else {
            continue;
        };
        for (_, e) in events.iter().filter(|(_, e)| e["Type"] == "Kinesis") {
            seen += 1;
            let p = &e["Properties"];
            assert_eq!(
                p["FunctionResponseTypes"],
                serde_json::json!(["ReportBatchItemFailures"]),
                "{name}"
            );
            assert_eq!(p["BisectBatchOnFunctionError"], true, "{name}");
            let retries = p["MaximumRetryAttempts"].as_i64().unwrap_or(-1);
            assert!(
                (0..=10_000).contains(&retries),
                "{name}: finite MaximumRetryAttempts"
            );
            let age = p["MaximumRecordAgeInSeconds"].as_i64().unwrap_or(-1);
            assert!(
                (60..=604_800).contains(&age),
                "{name}: finite MaximumRecordAgeInSeconds"
            );
            assert!(
                p["DestinationConfig"]["OnFailure"]["Destination"].is_object(),
                "{name}: on-failure destination"
            );
            assert!(
                p["BatchSize"].as_i64().is_some(),
                "{name}: batch size chosen"
            );
            assert!(
                p["MaximumBatchingWindowInSeconds"]
                    .as_i64()
                    .is_some_and(|w| w <= 1),
                "{name}: within the 5 s budget"
            );
        }
    }
    assert_eq!(seen, 2, "telemetry and race-control event sources");
}

#[test]
fn functions_are_rust_on_al2023_with_the_architecture_parameter_and_least_privilege() {
    let t = template();
    assert_eq!(t["Parameters"]["Architecture"]["Default"], "arm64");
    assert_eq!(t["Globals"]["Function"]["Runtime"], "provided.al2023");
    assert_eq!(
        t["Globals"]["Function"]["Architectures"],
        serde_json::json!([{"Ref": "Architecture"}])
    );
    let fns = resources(&t, "AWS::Serverless::Function");
    let bins: Vec<&str> = fns
        .iter()
        .map(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap())
        .collect();
    for b in ["telemetry-processor", "race-control", "appsync-writer"] {
        assert!(bins.contains(&b), "{b} missing from {bins:?}");
    }
    for (name, f) in &fns {
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        let policies = f["Properties"]["Policies"].to_string();
        assert!(
            !policies.contains("\"Action\":\"*\"") && !policies.contains("\"*:*\""),
            "{name}: no wildcard actions"
        );
        assert!(
            !policies.contains("AdministratorAccess") && !policies.contains("FullAccess"),
            "{name}: no broad managed policies"
        );
    }
}

/// `sam build` runs `cargo lambda build --bin <Binary>` in the function's `CodeUri`: at the
/// workspace root that picks the default package (the `burnbar` command) and fails with
/// "no bin target named ...". Each function's `CodeUri` must be its own crate's folder,
/// a workspace member whose bin target is the `Binary` (asked of `cargo metadata`, which
/// is how SAM's builder finds the binary too).
#[test]
fn each_function_builds_from_its_own_crate_folder() {
    let t = template();
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let fns = resources(&t, "AWS::Serverless::Function");
    assert_eq!(fns.len(), 3);
    let mut dirs = Vec::new();
    for (name, f) in &fns {
        let binary = f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let code_uri = f["Properties"]["CodeUri"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: CodeUri is a local folder"));
        let dir = root().join(code_uri);
        let manifest = dir.join("Cargo.toml");
        assert!(
            dir != root() && manifest.is_file(),
            "{name}: CodeUri {code_uri:?} is not a crate folder of its own"
        );
        let manifest = manifest.canonicalize().unwrap();
        let package = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| {
                Path::new(p["manifest_path"].as_str().unwrap())
                    .canonicalize()
                    .is_ok_and(|m| m == manifest)
            })
            .unwrap_or_else(|| panic!("{name}: {code_uri} is not a workspace member"));
        let bins: Vec<&str> = package["targets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert!(
            bins.contains(&binary),
            "{name}: {code_uri}/Cargo.toml has no bin {binary:?} (bins: {bins:?})"
        );
        dirs.push(manifest);
    }
    dirs.sort();
    dirs.dedup();
    assert_eq!(dirs.len(), fns.len(), "one crate folder per function");
}

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

/// The call threshold is one setting of the deployment (fuel-update-v1, "can't make it"):
/// a number from 5 to 50, 15 by default, given to both functions that publish a
/// RaceState, and to no other.
#[test]
fn the_cant_make_it_threshold_is_a_parameter_both_publishers_read() {
    let t = template();
    let p = &t["Parameters"]["CantMakeItPct"];
    assert_eq!(p["Type"], "Number");
    let num = |v: &Value| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    assert_eq!(num(&p["Default"]), Some(15.0));
    assert_eq!(num(&p["MinValue"]), Some(5.0));
    assert_eq!(num(&p["MaxValue"]), Some(50.0));
    let mut readers: Vec<String> = resources(&t, "AWS::Serverless::Function")
        .into_iter()
        .filter(|(_, f)| {
            f["Properties"]["Environment"]["Variables"]["CANT_MAKE_IT_PCT"]
                == serde_json::json!({"Ref": "CantMakeItPct"})
        })
        .map(|(name, _)| name)
        .collect();
    readers.sort();
    assert_eq!(
        readers,
        ["RaceControlFunction", "TelemetryProcessorFunction"],
        "CANT_MAKE_IT_PCT from the parameter"
    );
}

#[test]
fn every_function_has_a_sample_event_and_a_bad_variant() {
    for f in ["telemetry-processor", "race-control", "appsync-writer"] {
        for suffix in ["", "-bad"] {
            let p = root().join(format!("events/{f}{suffix}.json"));
            let v: Value = serde_json::from_slice(
                &std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(v.is_object(), "{}", p.display());
        }
    }
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Issue 16 item 5 and issue 15 item 12: the streams' capacity mode (on-demand,
/// on-demand with warm throughput, provisioned) and their retention are parameters.
#[test]
fn stream_capacity_and_retention_are_parameters() {
    let t = template();
    let p = &t["Parameters"];
    assert_eq!(
        p["StreamMode"]["AllowedValues"],
        serde_json::json!(["ON_DEMAND", "ON_DEMAND_WARM", "PROVISIONED"])
    );
    assert_eq!(p["StreamMode"]["Default"], "ON_DEMAND");
    let r = &p["StreamRetentionHours"];
    assert_eq!(num(&r["Default"]), Some(24.0));
    assert_eq!(num(&r["MinValue"]), Some(24.0));
    assert_eq!(num(&r["MaxValue"]), Some(8760.0));
    for s in ["TelemetryStream", "RaceControlStream"] {
        let props = &t["Resources"][s]["Properties"];
        assert_eq!(
            props["RetentionPeriodHours"],
            serde_json::json!({"Ref": "StreamRetentionHours"}),
            "{s}"
        );
        assert_eq!(
            props["StreamModeDetails"]["StreamMode"],
            serde_json::json!({"Fn::If": ["Provisioned", "PROVISIONED", "ON_DEMAND"]}),
            "{s}"
        );
    }
    let tel = &t["Resources"]["TelemetryStream"]["Properties"];
    assert_eq!(
        tel["WarmThroughputMiBps"],
        serde_json::json!({"Fn::If": ["WarmThroughput", {"Ref": "WarmThroughputMiBps"}, {"Ref": "AWS::NoValue"}]})
    );
    assert_eq!(
        t["Conditions"]["WarmThroughput"],
        serde_json::json!({"Fn::Equals": [{"Ref": "StreamMode"}, "ON_DEMAND_WARM"]})
    );
}

/// Issue 15 item 9: the viewers' key expires when the deployer says (no default, so never
/// AWS's 7 days), the date is an output, an alarm fires ApiKeyWarningDays before; a WAF
/// rate limit on the API counts the API-key requests.
#[test]
fn the_viewers_key_expires_explicitly_with_an_alarm_and_a_waf_rate_limit() {
    let t = template();
    let p = &t["Parameters"]["ViewerApiKeyExpires"];
    assert_eq!(p["Type"], "Number");
    assert!(p.get("Default").is_none(), "an explicit expiry, no default");
    assert_eq!(
        t["Resources"]["ViewerApiKey"]["Properties"]["Expires"],
        serde_json::json!({"Ref": "ViewerApiKeyExpires"})
    );
    assert_eq!(
        t["Outputs"]["ViewerApiKeyExpires"]["Value"],
        serde_json::json!({"Ref": "ViewerApiKeyExpires"})
    );
    let alarm = &t["Resources"]["ViewerApiKeyExpiryAlarm"];
    assert_eq!(alarm["Type"], "AWS::CloudWatch::Alarm");
    let a = &alarm["Properties"];
    assert_eq!(
        a["Threshold"],
        serde_json::json!({"Ref": "ApiKeyWarningDays"})
    );
    assert_eq!(a["ComparisonOperator"], "LessThanThreshold");
    let metrics = a["Metrics"].as_array().unwrap();
    let expr = metrics.iter().find(|m| m["ReturnData"] == true).unwrap()["Expression"].to_string();
    assert!(
        expr.contains("${ViewerApiKeyExpires}")
            && expr.contains("EPOCH(")
            && expr.contains("86400"),
        "{expr}"
    );
    assert_eq!(
        num(&t["Parameters"]["ApiKeyWarningDays"]["Default"]),
        Some(30.0)
    );

    let acl = &t["Resources"]["ViewerWebAcl"];
    assert_eq!(acl["Type"], "AWS::WAFv2::WebACL");
    assert_eq!(acl["Condition"], "HasWaf");
    assert_eq!(acl["Properties"]["Scope"], "REGIONAL");
    let rule = &acl["Properties"]["Rules"][0];
    assert!(rule["Action"]["Block"].is_object());
    let rate = &rule["Statement"]["RateBasedStatement"];
    assert_eq!(rate["Limit"], serde_json::json!({"Ref": "ViewerRateLimit"}));
    assert_eq!(rate["AggregateKeyType"], "IP");
    assert_eq!(
        rate["ScopeDownStatement"]["SizeConstraintStatement"]["FieldToMatch"]["SingleHeader"]["Name"],
        "x-api-key",
        "the viewers' requests, not the writer's"
    );
    let assoc = &t["Resources"]["ViewerWebAclAssociation"];
    assert_eq!(assoc["Type"], "AWS::WAFv2::WebACLAssociation");
    assert_eq!(assoc["Condition"], "HasWaf");
    assert_eq!(
        assoc["Properties"]["ResourceArn"],
        serde_json::json!({"Fn::GetAtt": ["AppSyncApi", "Arn"]})
    );
    assert_eq!(
        t["Conditions"]["HasWaf"],
        serde_json::json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "ViewerRateLimit"}, 0]}]})
    );
}

/// Issue 15 item 9: the publish mutations admit the writer function's role alone. The
/// resolvers compare the signer with WRITER_ROLE_PREFIX (tests/appsync/resolvers.test.js);
/// here, that the API sets it to the role the writer function runs as, and that role may
/// call the two mutations and nothing else of the API.
#[test]
fn the_publish_mutations_admit_the_writer_role_only() {
    let t = template();
    let r = &t["Resources"];
    let env = &r["AppSyncApi"]["Properties"]["EnvironmentVariables"];
    let prefix = env["WRITER_ROLE_PREFIX"]["Fn::Sub"].as_str().unwrap();
    assert_eq!(
        prefix,
        "arn:${AWS::Partition}:sts::${AWS::AccountId}:assumed-role/${AppSyncWriterRole}/"
    );
    assert_eq!(env["STATE_TTL_DAYS"]["Fn::Sub"], "${StateTtlDays}");
    assert_eq!(
        r["AppSyncWriterFunction"]["Properties"]["Role"],
        serde_json::json!({"Fn::GetAtt": ["AppSyncWriterRole", "Arn"]})
    );
    let policy = &r["AppSyncWriterPolicy"]["Properties"];
    assert_eq!(
        policy["Roles"],
        serde_json::json!([{"Ref": "AppSyncWriterRole"}])
    );
    let st = policy["PolicyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0]["Action"], serde_json::json!(["appsync:GraphQL"]));
    let res = st[0]["Resource"].to_string();
    assert!(
        res.contains("/types/Mutation/fields/publishUpdates")
            && res.contains("/types/Mutation/fields/publishRaceState")
            && st[0]["Resource"].as_array().unwrap().len() == 2,
        "{res}"
    );
    for f in ["publishUpdates.js", "publishRaceState.js"] {
        let src = std::fs::read_to_string(root().join("appsync").join(f)).unwrap();
        assert!(
            src.contains("ctx.env || {}).WRITER_ROLE_PREFIX")
                && src.contains("util.unauthorized()"),
            "appsync/{f} checks the writer's role"
        );
    }
}

/// Issue 15 item 10: the AppSync role reaches only the table of published batches (the
/// functions' car state shares its `race#` partitions, so it lives in another table), the
/// stream functions only the state table, both with key-prefix conditions; the model
/// role reads one ECR repository.
#[test]
fn tables_and_images_are_reached_with_least_privilege() {
    let t = template();
    let r = &t["Resources"];
    assert_eq!(r["PublishedTable"]["Type"], "AWS::DynamoDB::Table");
    assert_eq!(
        r["UpdatesDataSource"]["Properties"]["DynamoDBConfig"]["TableName"],
        serde_json::json!({"Ref": "PublishedTable"})
    );
    let role = &r["AppSyncTableRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
    assert_eq!(role.as_array().unwrap().len(), 1);
    assert_eq!(
        role[0]["Resource"],
        serde_json::json!({"Fn::GetAtt": ["PublishedTable", "Arn"]})
    );
    assert_eq!(
        role[0]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
        serde_json::json!(["race#*"])
    );
    for f in ["TelemetryProcessorFunction", "RaceControlFunction"] {
        let policies = &r[f]["Properties"]["Policies"];
        assert!(
            !policies.to_string().contains("PublishedTable"),
            "{f}: not the published table"
        );
        let st = policies[0]["Statement"].as_array().unwrap();
        let ddb: Vec<&Value> = st
            .iter()
            .filter(|s| s["Action"].to_string().contains("dynamodb:"))
            .collect();
        assert_eq!(ddb.len(), 1, "{f}");
        assert_eq!(
            ddb[0]["Resource"],
            serde_json::json!({"Fn::GetAtt": ["StateTable", "Arn"]}),
            "{f}"
        );
        assert_eq!(
            ddb[0]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
            serde_json::json!(["race#*", "current"]),
            "{f}"
        );
        let actions = ddb[0]["Action"].to_string();
        assert!(
            !actions.contains("Delete") && !actions.contains("Scan") && !actions.contains('*'),
            "{f}: {actions}"
        );
    }
    let model =
        r["CorrectionModelRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .clone();
    let ecr = model
        .iter()
        .find(|s| s["Action"].to_string().contains("ecr:BatchGetImage"))
        .unwrap();
    let res = ecr["Resource"].to_string();
    assert!(
        !res.contains("repository/*") && res.contains("ModelImageUri"),
        "the image's repository only: {res}"
    );
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

/// Every Rust source file of the functions, the shared crates and the bridge.
fn rust_sources() -> String {
    let mut all = String::new();
    let mut dirs = vec![
        root().join("shared"),
        root().join("functions"),
        root().join("bridge"),
    ];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().unwrap() != "target" {
                    dirs.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                all.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    all
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

/// Issue 16 item 1: behind DeployPages, a private bucket read only by a CloudFront
/// distribution through origin access control, HTTPS, config.json not cached; the
/// publish step reads outputs the template has.
#[test]
fn the_pages_are_served_from_a_private_bucket_through_cloudfront() {
    let t = template();
    let r = &t["Resources"];
    assert_eq!(t["Parameters"]["DeployPages"]["Default"], "false");
    for name in [
        "PagesBucket",
        "PagesBucketPolicy",
        "PagesOriginAccessControl",
        "PagesCachePolicy",
        "PagesDistribution",
    ] {
        assert_eq!(r[name]["Condition"], "DeployPagesCondition", "{name}");
    }
    let block = &r["PagesBucket"]["Properties"]["PublicAccessBlockConfiguration"];
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[k], true, "{k}");
    }
    let oac = &r["PagesOriginAccessControl"]["Properties"]["OriginAccessControlConfig"];
    assert_eq!(oac["OriginAccessControlOriginType"], "s3");
    assert_eq!(oac["SigningBehavior"], "always");
    let dist = &r["PagesDistribution"]["Properties"]["DistributionConfig"];
    assert_eq!(
        dist["Origins"][0]["OriginAccessControlId"],
        serde_json::json!({"Fn::GetAtt": ["PagesOriginAccessControl", "Id"]})
    );
    assert_eq!(
        dist["DefaultCacheBehavior"]["ViewerProtocolPolicy"],
        "redirect-to-https"
    );
    assert_eq!(dist["DefaultRootObject"], "index.html");
    let config = dist["CacheBehaviors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["PathPattern"] == "config.json")
        .expect("a behaviour for config.json");
    // AWS's managed CachingDisabled policy.
    assert_eq!(
        config["CachePolicyId"],
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    );
    assert_eq!(config["ViewerProtocolPolicy"], "redirect-to-https");
    let policy = r["PagesBucketPolicy"]["Properties"]["PolicyDocument"].to_string();
    assert!(
        policy.contains("cloudfront.amazonaws.com")
            && policy.contains("AWS:SourceArn")
            && policy.contains("PagesDistribution"),
        "{policy}"
    );

    // scripts/publish-pages, offline: the outputs it reads exist, and config.json is the
    // pages' configuration from them.
    let script = std::fs::read_to_string(root().join("scripts/publish-pages")).unwrap();
    for out in [
        "GraphQLUrl",
        "GraphQLRealtimeUrl",
        "ViewerApiKey",
        "ViewerApiKeyExpires",
        "PagesBucketName",
        "PagesDistributionId",
        "PagesUrl",
    ] {
        assert!(script.contains(out), "publish-pages reads {out}");
        assert!(t["Outputs"][out].is_object(), "output {out}");
    }
    let dir = std::env::temp_dir().join(format!("burnbar-pages-{}", std::process::id()));
    let outputs = dir.join("outputs.json");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        &outputs,
        serde_json::json!({
            "GraphQLUrl": "https://x.appsync-api.us-east-1.amazonaws.com/graphql",
            "GraphQLRealtimeUrl": "wss://x.appsync-realtime-api.us-east-1.amazonaws.com/graphql",
            "ViewerApiKey": "da2-test",
            "ViewerApiKeyExpires": "4000000000",
            "PagesBucketName": "b",
            "PagesDistributionId": "E1",
            "PagesUrl": "https://d.cloudfront.net/"
        })
        .to_string(),
    )
    .unwrap();
    let site = dir.join("site");
    let out = run(
        "bash",
        &[
            "scripts/publish-pages",
            "--outputs",
            outputs.to_str().unwrap(),
            "--race",
            "2026-pocono",
            "--stage",
            site.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "publish-pages --stage:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg: Value =
        serde_json::from_slice(&std::fs::read(site.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        cfg,
        serde_json::json!({
            "graphqlUrl": "https://x.appsync-api.us-east-1.amazonaws.com/graphql",
            "realtimeUrl": "wss://x.appsync-realtime-api.us-east-1.amazonaws.com/graphql",
            "apiKey": "da2-test",
            "raceId": "2026-pocono"
        })
    );
    for page in ["index.html", "graphic.html", "appsync.js"] {
        assert!(site.join(page).is_file(), "{page} staged");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The bridge's NATS secrets come from Secrets Manager into the container's environment
/// (never a plain variable), its execution role may read those secrets only, TLS is
/// required by default, and the on-failure queue `burnbar-redrive` reads is an output.
#[test]
fn the_bridges_nats_secrets_come_from_secrets_manager_and_the_redrive_queue_is_an_output() {
    let t = template();
    let p = &t["Parameters"];
    assert_eq!(p["BridgeNatsSecretArn"]["Default"], "");
    assert_eq!(p["BridgeNatsTls"]["Default"], "required");
    let kinds: Vec<&str> = p["BridgeNatsSecretKind"]["AllowedValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["creds", "password", "nkey", "token"]);
    // Each kind maps onto the variable the bridge reads (bridge/src/config/vars.rs).
    let vars = burnbar_bridge_vars();
    for k in kinds {
        let var = t["Mappings"]["NatsSecretVar"][k]["Var"].as_str().unwrap();
        assert!(vars.contains(&var.to_owned()), "{k} -> {var}");
    }
    let task = &t["Resources"]["BridgeTaskDefinition"]["Properties"]["ContainerDefinitions"][0];
    let secrets = task["Secrets"].to_string();
    assert!(
        secrets.contains("BridgeNatsSecretArn") && secrets.contains("NATS_TLS_CA"),
        "{secrets}"
    );
    let env = task["Environment"].to_string();
    for secret in [
        "NATS_PASSWORD",
        "NATS_CREDS",
        "NATS_NKEY_SEED",
        "NATS_TOKEN",
    ] {
        assert!(
            !env.contains(secret),
            "{secret} must not be a plain variable: {env}"
        );
    }
    let exec = t["Resources"]["BridgeExecutionRole"]["Properties"]["Policies"].to_string();
    assert!(
        exec.contains("secretsmanager:GetSecretValue") && !exec.contains("\"*\""),
        "{exec}"
    );
    assert_eq!(
        t["Outputs"]["FailedBatchQueueUrl"]["Value"]["Ref"],
        "FailedBatchQueue"
    );
}

/// The variable names the bridge reads, from its one list.
fn burnbar_bridge_vars() -> Vec<String> {
    let src = std::fs::read_to_string(root().join("bridge/src/config/vars.rs")).unwrap();
    src.lines()
        .filter_map(|l| l.trim().strip_prefix("name: \""))
        .map(|l| l.trim_end_matches("\",").to_owned())
        .collect()
}

/// Issue 16 item 4: behind DownstreamStream (off by default), a stream for the published
/// updates, the writer told its name, and a policy that lets the writer put records on
/// that stream and nothing else.
#[test]
fn the_downstream_stream_is_optional_and_only_the_writer_may_put_on_it() {
    let t = template();
    let p = &t["Parameters"]["DownstreamStream"];
    assert_eq!(p["Default"], "false", "off unless asked for");
    assert_eq!(
        t["Conditions"]["HasDownstream"],
        serde_json::json!({"Fn::Equals": [{"Ref": "DownstreamStream"}, "true"]})
    );
    let r = &t["Resources"];
    let stream = &r["DownstreamUpdatesStream"];
    assert_eq!(stream["Type"], "AWS::Kinesis::Stream");
    assert_eq!(stream["Condition"], "HasDownstream");
    assert_eq!(
        stream["Properties"]["StreamEncryption"]["EncryptionType"],
        "KMS"
    );
    let policy = &r["AppSyncWriterDownstreamPolicy"];
    assert_eq!(policy["Type"], "AWS::IAM::Policy");
    assert_eq!(policy["Condition"], "HasDownstream");
    assert_eq!(
        policy["Properties"]["Roles"],
        serde_json::json!([{"Ref": "AppSyncWriterRole"}])
    );
    let st = policy["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0]["Action"], serde_json::json!(["kinesis:PutRecords"]));
    assert_eq!(
        st[0]["Resource"],
        serde_json::json!({"Fn::GetAtt": ["DownstreamUpdatesStream", "Arn"]})
    );
    // The writer learns the stream's name (empty when off); no other function or role
    // is given the stream.
    let env = &r["AppSyncWriterFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        env["DOWNSTREAM_STREAM"],
        serde_json::json!({"Fn::If": ["HasDownstream", {"Ref": "DownstreamUpdatesStream"}, ""]})
    );
    for (name, res) in r.as_object().unwrap() {
        if name == "AppSyncWriterDownstreamPolicy" || name == "AppSyncWriterFunction" {
            continue;
        }
        let text = res.to_string();
        if name != "DownstreamUpdatesStream" {
            assert!(
                !text.contains("\"DownstreamUpdatesStream\""),
                "{name} refers to the downstream stream"
            );
        }
    }
}
