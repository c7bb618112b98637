//! Who may reach what: the viewers' key and its rate limit, the writer-only mutations,
//! least privilege on tables and images, the bridge's secrets, the optional downstream
//! stream.

use super::*;

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
