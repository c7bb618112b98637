//! What the container tests share: a trained-looking model, windows with awkward
//! numbers, and the `burnbar-model` binary started on loopback.

#![allow(dead_code)] // each test file uses its part

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burnbar_core::car::WindowFeatures;
use burnbar_core::contract::CarId;
use burnbar_core::correction::{CorrectionModel, Domain, PackageCorrection, PredictResponse};
use burnbar_core::tracks::EnginePackage;

pub const BIN: &str = env!("CARGO_BIN_EXE_burnbar-model");

/// A model as `burnbar train` would write it: hp670 trained (coefficients with full
/// mantissas, small enough that most factors stay inside the bounds; its domain from
/// other windows of the same mix, so that some windows fall outside), hp510 physics.
pub fn model() -> CorrectionModel {
    let mut m = CorrectionModel::identity();
    m.hp670 = Some(PackageCorrection {
        coef: vec![
            0.012_345_678_901_234_5,
            -0.031_415_926_535_897_93,
            0.027_182_818_284_590_45,
            0.008_314_462_618,
            -0.004_669_201_609_102_99,
            0.001_618_033_988_749_89,
            -0.000_577_215_664_901_53,
            0.006_022_140_76,
            0.041_421_356_237_309_5,
            0.030_102_999_566_398_12,
        ],
        stints: 20,
        tracks: vec!["michigan".into(), "pocono".into()],
        domain: Domain::from_windows(
            windows(6_000)[3_000..]
                .iter()
                .filter(|w| w.package == EnginePackage::Hp670),
        ),
    });
    m.ridge = 0.3;
    m.cv_median_physics = 0.021;
    m.cv_median_corrected = 0.013;
    m
}

/// `n` windows of a deterministic pseudo-random mix: both packages, pit road and
/// caution, numbers that need all 17 digits to round-trip.
pub fn windows(n: usize) -> Vec<WindowFeatures> {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut r = move || {
        // xorshift64*: 53 bits into [0, 1).
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|i| {
            let throttle = r();
            WindowFeatures {
                car: CarId::parse(&(1 + i % 40).to_string()).unwrap(),
                package: if i % 7 == 3 {
                    EnginePackage::Hp510
                } else {
                    EnginePackage::Hp670
                },
                window_start: 1_750_000_000_000 + 5_000 * i as i64,
                physics_gph: 20.0 + 30.0 * r(),
                throttle,
                rpm: 5_500.0 + 4_000.0 * throttle + 100.0 * r(),
                wot_share: r() * throttle,
                closed_share: r() * (1.0 - throttle),
                mph: 40.0 + 160.0 * throttle * r(),
                caution_share: if i % 11 == 0 { r() } else { 0.0 },
                in_pit: i % 29 == 0,
                coverage: 1.0 - 0.1 * r(),
            }
        })
        .collect()
}

/// A file under cargo's scratch folder for tests, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str, text: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "burnbar-model-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, text).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The binary serving a model on 127.0.0.1 (port 0: the server picks a free port and
/// its "listening" log line says which). Killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    stderr: Arc<Mutex<String>>,
    _model: Scratch,
}

impl Server {
    pub fn start(model: &CorrectionModel) -> Server {
        let file = Scratch::new(
            "correction.json",
            &serde_json::to_string_pretty(model).unwrap(),
        );
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1", "--port", "0", "--model"])
            .arg(&file.0)
            .env_remove("MODEL_PATH")
            .env_remove("SAGEMAKER_BIND_TO_PORT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start burnbar-model");
        // Every stderr line is kept (for failure messages) and passed on until the
        // process ends; the pipe never fills.
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let keep = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                keep.lock().unwrap().push_str(&line);
                keep.lock().unwrap().push('\n');
                let _ = tx.send(line);
            }
        });
        let addr = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                        continue;
                    };
                    if v["msg"] == "listening" {
                        break v["addr"].as_str().unwrap().to_owned();
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    panic!(
                        "burnbar-model did not listen ({e}): {}",
                        stderr.lock().unwrap()
                    );
                }
            }
        };
        Server {
            child,
            url: format!("http://{addr}"),
            stderr,
            _model: file,
        }
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits for the exit (at most 10 s).
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = wait_for(&mut self.child, Duration::from_secs(10));
        // The reader thread ends with the pipe; give it a moment to copy the last line.
        let t0 = Instant::now();
        while !self.stderr().contains("\"stopped\"") && t0.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(20));
        }
        (status, self.stderr())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `child` to exit; one still running after `limit` is killed and the test
/// fails.
pub fn wait_for(child: &mut Child, limit: Duration) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("burnbar-model still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that two lists of factors are the same bits.
pub fn assert_same_bits(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "one factor per window");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            g.to_bits(),
            w.to_bits(),
            "window {i}: the container says {g:?}, the in-process model {w:?}"
        );
    }
}

/// Asserts that an answer is the in-process model's, bit for bit: the factors and the
/// windows outside its domain.
pub fn assert_same_answer(got: &PredictResponse, want: &PredictResponse) {
    assert_same_bits(&got.factors, &want.factors);
    assert_eq!(got.outside_domain, want.outside_domain, "outside_domain");
}
