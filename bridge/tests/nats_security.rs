//! The bridge's way into NATS: credentials, TLS with a private CA, and secrets kept out
//! of every log line, against a real nats-server on 127.0.0.1.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

const PASSWORD: &str = "s3cret-pw-1f9";

/// Variables for a bridge reading `nats_url` and writing to moto.
fn env(
    nats_url: String,
    moto: &Moto,
    extra: &[(&'static str, String)],
) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("NATS_URL", nats_url),
        ("AWS_ENDPOINT_URL", moto.url()),
        ("KINESIS_TELEMETRY_STREAM", "tel".to_owned()),
        ("KINESIS_RACE_CONTROL_STREAM", "rc".to_owned()),
        ("LINGER_MS", "50".to_owned()),
    ];
    v.extend(extra.iter().cloned());
    v
}

/// Runs the bridge binary expecting it to fail at start; returns its stderr.
fn fails_at_start(env: &[(&str, String)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_burnbar-bridge"));
    cmd.env_clear()
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("HEALTH_ADDR", format!("127.0.0.1:{}", free_port()));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("running burnbar-bridge");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "the bridge started: {err}");
    err
}

/// Publishes one sample and waits until the bridge delivered it.
async fn one_sample_goes_through(client: &async_nats::Client, bridge: &Bridge) {
    client
        .publish("burnbar.telemetry.car.7", sample("7", T0, 8000.0).into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    wait_until(Duration::from_secs(30), "the sample delivered", || {
        bridge.counter("messages_delivered_total") >= 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_signs_in_with_user_and_password_and_never_logs_the_password() {
    let nats = Nats::start_with(false, &["--user", "bridge", "--pass", PASSWORD]);
    let moto = Moto::start();
    let k = kinesis(&moto.url());
    create_stream(&k, "tel", 1).await;
    create_stream(&k, "rc", 1).await;

    let mut bridge = Bridge::start(&env(
        nats.url(),
        &moto,
        &[
            ("NATS_USER", "bridge".to_owned()),
            ("NATS_PASSWORD", PASSWORD.to_owned()),
        ],
    ));
    let client =
        async_nats::ConnectOptions::with_user_and_password("bridge".into(), PASSWORD.into())
            .connect(nats.url())
            .await
            .unwrap();
    one_sample_goes_through(&client, &bridge).await;
    let log = bridge.stop();
    assert!(log.contains("\"auth\":\"user and password\""), "{log}");
    assert!(!log.contains(PASSWORD), "{log}");

    // The password written into the URL instead, and wrong: the bridge refuses to start,
    // names the server, and shows neither the password nor the user.
    let url = format!("nats://bridge:wrong-{PASSWORD}@127.0.0.1:{}", nats.port);
    let err = fails_at_start(&env(url, &moto, &[]));
    assert!(
        err.contains(&format!("***@127.0.0.1:{}", nats.port)),
        "{err}"
    );
    assert!(!err.contains(PASSWORD) && !err.contains("bridge:"), "{err}");

    // No credentials at all: refused by the server, a clear error.
    let err = fails_at_start(&env(nats.url(), &moto, &[]));
    assert!(err.contains("connecting to NATS"), "{err}");
}

/// A CA and a server certificate for 127.0.0.1 signed by it, made with openssl.
fn certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new(require("openssl"))
            .args(args)
            .current_dir(dir)
            .output()
            .expect("running openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("ca.cnf"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("server.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.csr",
        "-subj",
        "/CN=burnbar test CA",
    ]);
    run(&[
        "x509", "-req", "-in", "ca.csr", "-signkey", "ca.key", "-out", "ca.pem", "-days", "2",
        "-extfile", "ca.cnf",
    ]);
    run(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.cnf",
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_speaks_tls_to_a_server_its_ca_signed_and_refuses_one_it_cannot_trust() {
    let dir = TempDir::new("nats-tls");
    certificates(dir.path());
    let p = |f: &str| dir.path().join(f).display().to_string();
    let nats = Nats::start_with(
        false,
        &[
            "--tls",
            "--tlscert",
            &p("server.pem"),
            "--tlskey",
            &p("server.key"),
        ],
    );
    let moto = Moto::start();
    let k = kinesis(&moto.url());
    create_stream(&k, "tel", 1).await;
    create_stream(&k, "rc", 1).await;

    // The CA as content, as a secret would give it.
    let ca = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
    let mut bridge = Bridge::start(&env(nats.url(), &moto, &[("NATS_TLS_CA", ca)]));
    let client = async_nats::ConnectOptions::new()
        .add_root_certificates(dir.path().join("ca.pem"))
        .require_tls(true)
        .connect(nats.url())
        .await
        .unwrap();
    one_sample_goes_through(&client, &bridge).await;
    let log = bridge.stop();
    assert!(log.contains("\"tls\":\"required\""), "{log}");
    assert!(!log.contains("BEGIN CERTIFICATE"), "{log}");

    // Without the CA the server's certificate is not trusted: no connection.
    let err = fails_at_start(&env(
        nats.url(),
        &moto,
        &[("NATS_TLS", "required".to_owned())],
    ));
    assert!(err.contains("connecting to NATS"), "{err}");

    // TLS required of a server without it: refused too.
    let plain = Nats::start(false);
    let err = fails_at_start(&env(
        plain.url(),
        &moto,
        &[("NATS_TLS", "required".to_owned())],
    ));
    assert!(err.contains("connecting to NATS"), "{err}");
}
