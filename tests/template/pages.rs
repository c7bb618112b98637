//! The dashboard pages behind DeployPages: a private bucket, CloudFront, the publish step.

use super::*;

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
