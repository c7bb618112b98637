//! `template.yaml`: clean under `cfn-lint` and `sam validate --lint`, the reliability
//! settings the pipeline relies on are present, and each function points `sam build` at
//! its own crate, so nobody drops them later (`scripts/test-all` runs `sam build` itself).
//!
//! The template is read through cfn-lint's own decoder (it understands `!Ref`, `!GetAtt`
//! and the other short forms); the README's test command installs cfn-lint and the SAM
//! CLI (`scripts/setup-lambda`).
//!
//! One test binary: the checks are in modules by subject; reading the template, running
//! the tools and reading the sources are here.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod functions;
mod operations;
mod pages;
mod security;

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

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
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
