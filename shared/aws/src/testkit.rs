//! Stand-ins for tests without an AWS account (feature `testkit`): a `moto_server` on
//! loopback with the table and queue shaped as `template.yaml` makes them, and a Lambda
//! function binary run under `cargo lambda watch`'s Runtime API.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use crate::dynamo::DynamoStore;

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16, what: &str) {
    let t0 = std::time::Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "{what} did not listen on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A process (and its process group) killed on drop.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let pgid = self.0.id();
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pgid}")])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `moto_server` of a test, killed on drop.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    /// Starts a server on a free port and waits until it answers HTTP. The port is
    /// free when picked but released before moto binds it, so another process (another
    /// test's server) can take it in between: a server of ours that exits before it
    /// answers (its bind failed) is started again on another port, up to three times,
    /// and readiness is an HTTP answer while our child is still running, not only a
    /// connection (which another listener could accept).
    pub fn start() -> Moto {
        let mut last = String::new();
        for _ in 0..3 {
            match Moto::try_start() {
                Ok(m) => return m,
                Err(e) => last = e,
            }
        }
        panic!("moto_server did not start: {last}")
    }

    fn try_start() -> Result<Moto, String> {
        let port = free_port();
        let mut child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("moto_server did not start ({e}): run `bash scripts/setup-lambda` (pip install 'moto[server]')")
            });
        let url = format!("http://127.0.0.1:{port}");
        let t0 = std::time::Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("moto_server on {url} exited ({status})"));
            }
            if answers_http(port) && matches!(child.try_wait(), Ok(None)) {
                return Ok(Moto { child, url });
            }
            if t0.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("moto_server did not answer on {url} in 60 s"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub async fn sdk(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.url)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .load()
            .await
    }

    /// A table shaped as `template.yaml` makes it (pk, sk, TTL on `expires_at`).
    pub async fn table(&self, name: &str) -> DynamoStore {
        let client = aws_sdk_dynamodb::Client::new(&self.sdk().await);
        let attr = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap()
        };
        let key = |n: &str, t| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(t)
                .build()
                .unwrap()
        };
        client
            .create_table()
            .table_name(name)
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .unwrap();
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        DynamoStore::new(client, name)
    }

    /// Queues answers of the SageMaker runtime (moto's seeding API).
    pub fn seed_sagemaker(&self, bodies: &[&str]) {
        let results: Vec<serde_json::Value> = bodies
            .iter()
            .map(|b| serde_json::json!({"Body": b, "ContentType": "application/json", "InvokedProductionVariant": "main", "CustomAttributes": ""}))
            .collect();
        let body = serde_json::json!({"region": "us-east-1", "results": results}).to_string();
        let addr = self.url.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST /moto-api/static/sagemaker/endpoint-results HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(
            resp.starts_with("HTTP/1.1 20") || resp.starts_with("HTTP/1.0 20"),
            "{resp}"
        );
    }
}

/// Whether something on 127.0.0.1:`port` answers an HTTP request (any status).
fn answers_http(port: u16) -> bool {
    let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    if conn
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 8];
    conn.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A function binary under the Lambda Runtime API of `cargo lambda watch`
/// (`--only-lambda-apis`: the binary is the one cargo built for the test, not a second
/// build by cargo-lambda).
pub struct LambdaRig {
    pub port: u16,
    _watch: Guard,
    _function: Guard,
}

impl LambdaRig {
    /// Starts the emulator in `root` (the workspace) and the function `binary` with `env`.
    pub fn start(root: &Path, binary: &str, env: &[(&str, String)]) -> LambdaRig {
        Self::start_with_stdout(root, binary, env, Stdio::null())
    }

    /// As [`LambdaRig::start`], with the function's standard output (its EMF metric lines)
    /// going to `stdout` (a file a rehearsal reads its metrics from).
    pub fn start_with_stdout(
        root: &Path,
        binary: &str,
        env: &[(&str, String)],
        stdout: impl Into<Stdio>,
    ) -> LambdaRig {
        let ok = Command::new("cargo")
            .args(["lambda", "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "cargo-lambda is not installed: run `bash scripts/setup-lambda` (scripts/test-all does)"
        );
        let port = free_port();
        let mut cmd = Command::new("cargo");
        cmd.current_dir(root)
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .env("CARGO_LAMBDA_COMPILER", "cargo")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let watch = Guard(cmd.spawn().expect("start cargo lambda watch"));
        wait_listening(port, "cargo lambda watch");
        let mut f = Command::new(binary);
        f.env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .stdin(Stdio::null())
        .stdout(stdout);
        for (k, v) in env {
            f.env(k, v);
        }
        std::os::unix::process::CommandExt::process_group(&mut f, 0);
        let function = Guard(f.spawn().expect("start the function binary"));
        LambdaRig {
            port,
            _watch: watch,
            _function: function,
        }
    }

    /// `cargo lambda invoke --data-file <file>`, retried while the emulator starts.
    pub fn invoke(&self, data_file: &Path) -> serde_json::Value {
        let mut last = String::new();
        for _ in 0..120 {
            // `timeout`: an invocation the emulator cannot route waits forever.
            let out = Command::new("timeout")
                .args([
                    "60",
                    "cargo",
                    "lambda",
                    "invoke",
                    "_",
                    "--invoke-address",
                    "127.0.0.1",
                    "--invoke-port",
                ])
                .arg(self.port.to_string())
                .args(["--output-format", "json", "--data-file"])
                .arg(data_file)
                .output()
                .unwrap();
            if out.status.success() {
                return serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
            }
            last = String::from_utf8_lossy(&out.stderr).into_owned();
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!(
            "cargo lambda invoke {} never succeeded: {last}",
            data_file.display()
        );
    }
}

/// What a function needs from its stand-ins: moto (table `burnbar`, queue `quarantine`)
/// and the environment pointing the function at moto, at `writer_url`, with `creds`.
pub struct AwsStandIns {
    pub moto: Moto,
    pub store: DynamoStore,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl AwsStandIns {
    pub async fn start() -> AwsStandIns {
        let moto = Moto::start();
        let store = moto.table("burnbar").await;
        let sqs = aws_sdk_sqs::Client::new(&moto.sdk().await);
        let q = sqs
            .create_queue()
            .queue_name("quarantine")
            .send()
            .await
            .unwrap();
        let queue_url = q.queue_url().unwrap().to_owned();
        AwsStandIns {
            moto,
            store,
            sqs,
            queue_url,
        }
    }

    /// The function's environment: moto for AWS, `writer_url` for the writer API, and
    /// `creds` (access key, secret, session token) as Lambda would provide them.
    pub fn env(&self, writer_url: &str, creds: (&str, &str, &str)) -> Vec<(&'static str, String)> {
        vec![
            ("TABLE_NAME", "burnbar".into()),
            ("QUARANTINE_URL", self.queue_url.clone()),
            ("WRITER_URL", writer_url.into()),
            ("AWS_ENDPOINT_URL", self.moto.url.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", creds.0.into()),
            ("AWS_SECRET_ACCESS_KEY", creds.1.into()),
            ("AWS_SESSION_TOKEN", creds.2.into()),
        ]
    }

    /// The quarantined records (their JSON bodies), read off the queue.
    pub async fn quarantined(&self) -> Vec<serde_json::Value> {
        let mut all = Vec::new();
        for _ in 0..5 {
            let msgs = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            if msgs.messages().is_empty() {
                break;
            }
            for m in msgs.messages() {
                all.push(serde_json::from_str(m.body().unwrap()).unwrap());
            }
        }
        all
    }
}
