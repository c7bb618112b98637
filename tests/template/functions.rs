//! The template is clean under the linters; the functions run Rust on AL2023 and build
//! from their own crates, read the parameters they need and have sample events; the
//! streams keep their reliability settings, and their capacity and retention are
//! parameters.

use super::*;

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
