//! The container as it is shipped: `model/Dockerfile` has the shape SageMaker needs
//! (a build stage and a small runtime stage, the binary as the entry point, port 8080),
//! and `template.yaml`'s SageMaker model runs this image on this contract.
//!
//! Docker is not needed: the Dockerfile is read as text, the template through cfn-lint's
//! decoder (as `tests/template/main.rs` does; `scripts/setup-lambda` installs it).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

/// The Dockerfile's instructions: `(KEYWORD, arguments)`, continuation lines joined,
/// comments and parser directives dropped.
fn instructions() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let (kw, args) = current.split_once(char::is_whitespace).unwrap();
        out.push((kw.to_ascii_uppercase(), args.trim().to_owned()));
        current.clear();
    }
    assert!(current.is_empty(), "the Dockerfile ends in a continuation");
    out
}

#[test]
fn the_dockerfile_builds_the_binary_and_runs_it_as_sagemaker_does() {
    let ins = instructions();
    let froms: Vec<usize> = (0..ins.len()).filter(|&i| ins[i].0 == "FROM").collect();
    assert!(
        froms.len() >= 2,
        "a build stage and a runtime stage: {ins:?}"
    );
    assert_eq!(froms[0], 0, "the file starts with FROM");

    // The build stage: a Rust image, named, building this package from the lockfile.
    let first: Vec<&str> = ins[0].1.split_whitespace().collect();
    assert!(first[0].starts_with("rust:"), "{first:?}");
    assert!(
        first.len() == 3 && first[1].eq_ignore_ascii_case("AS"),
        "{first:?}"
    );
    let stage = first[2];
    let build = &ins[..*froms.last().unwrap()];
    assert!(
        build.iter().any(|(k, a)| k == "RUN"
            && a.contains("cargo build --release")
            && a.contains("--locked")
            && a.contains("-p burnbar-model")),
        "{build:?}"
    );

    // The runtime stage: a small image with the binary from the build stage only.
    let runtime = &ins[*froms.last().unwrap()..];
    let image = &runtime[0].1;
    assert!(
        !image.starts_with("rust:") && !image.contains(" AS "),
        "{image}"
    );
    let copies: Vec<&String> = runtime
        .iter()
        .filter(|(k, _)| k == "COPY")
        .map(|(_, a)| a)
        .collect();
    // Read and run by anyone, written by no one (the server runs unprivileged).
    assert_eq!(
        copies,
        [&format!(
            "--from={stage} --chmod=0555 /burnbar-model /burnbar-model"
        )]
    );
    let one = |kw: &str| -> &str {
        let all: Vec<&str> = runtime
            .iter()
            .filter(|(k, _)| k == kw)
            .map(|(_, a)| a.as_str())
            .collect();
        assert_eq!(all.len(), 1, "one {kw} in the runtime stage: {all:?}");
        all[0]
    };
    assert_eq!(one("EXPOSE"), "8080");
    // Exec form (JSON): SIGTERM reaches the server itself, not a shell.
    let entry: Value = serde_json::from_str(one("ENTRYPOINT")).expect("ENTRYPOINT in exec form");
    assert_eq!(entry, json!(["/burnbar-model"]));
    let cmd: Value = serde_json::from_str(one("CMD")).expect("CMD in exec form");
    assert_eq!(cmd, json!(["serve"]));
    // Not root (issue 15, least privilege): a numeric user and group that are not 0, on
    // distroless's nonroot variant (its uid 65532). The server only reads /opt/ml/model and
    // listens on 8080, which needs no privilege.
    let user = one("USER");
    let (uid, gid) = user.split_once(':').unwrap_or((user, user));
    let uid: u32 = uid.parse().expect("a numeric user");
    let gid: u32 = gid.parse().expect("a numeric group");
    assert!(uid != 0 && gid != 0, "USER {user}: not root");
    assert!(image.ends_with(":nonroot"), "{image}");
}

/// `template.yaml` as JSON, through cfn-lint's decoder.
fn template() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import json,sys\nfrom cfnlint.decode import decode_str\nt,m=decode_str(open('template.yaml').read())\nassert not m, m\nprint(json.dumps(t))",
        ])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cfn-lint's decoder ({}): run `bash scripts/setup-lambda`",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_templates_sagemaker_model_runs_this_container_on_its_contract() {
    let t = template();
    let r = &t["Resources"];
    let model = &r["CorrectionModel"];
    assert_eq!(model["Type"], "AWS::SageMaker::Model");
    assert_eq!(model["Condition"], "CreateModel");
    let c = &model["Properties"]["PrimaryContainer"];
    assert_eq!(c["Image"], json!({"Ref": "ModelImageUri"}));
    assert_eq!(c["ModelDataUrl"], json!({"Ref": "ModelDataUrl"}));
    // The artifact where the server looks for it: SageMaker extracts model.tar.gz into
    // /opt/ml/model.
    assert_eq!(
        c["Environment"],
        json!({"MODEL_PATH": burnbar_model::DEFAULT_MODEL_PATH})
    );
    // The endpoint serves that model, and the processor calls that endpoint.
    let variants = &r["CorrectionEndpointConfig"]["Properties"]["ProductionVariants"];
    assert_eq!(
        variants[0]["ModelName"],
        json!({"Fn::GetAtt": ["CorrectionModel", "ModelName"]})
    );
    assert_eq!(
        r["CorrectionEndpoint"]["Properties"]["EndpointConfigName"],
        json!({"Fn::GetAtt": ["CorrectionEndpointConfig", "EndpointConfigName"]})
    );
    let env = &r["TelemetryProcessorFunction"]["Properties"]["Environment"]["Variables"];
    assert!(
        env["SAGEMAKER_ENDPOINT"]
            .to_string()
            .contains("CorrectionEndpoint"),
        "{env}"
    );
}
