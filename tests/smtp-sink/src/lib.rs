//! A real SMTP server for the tests: `sink.py` beside this crate (aiosmtpd) started on a free
//! loopback port, writing each message it accepts to a folder as decoded JSON. It can be stopped
//! and started again on the same port, to test sending while the relay is down, stalled (it
//! accepts connections but answers nothing), and told to refuse some addresses for good and
//! others for a while.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A running (or stopped) SMTP sink and the mail it received.
pub struct SmtpSink {
    pub port: u16,
    folder: tempfile::TempDir,
    process: Option<Child>,
    faults: Faults,
}

/// Addresses the server refuses: for good (550 at RCPT TO), or the first `defer_times` times
/// they are tried (451); and how long it takes to answer a message it keeps.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub refuse: Vec<String>,
    pub defer: Vec<String>,
    pub defer_times: u32,
    pub reply_delay_ms: u32,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl SmtpSink {
    /// Starts a sink; panics (failing the test) when Python or aiosmtpd is missing.
    pub async fn start() -> Self {
        Self::start_refusing(&[]).await
    }

    /// Starts a sink that refuses `addresses` for good (550 at RCPT TO) and accepts the rest.
    pub async fn start_refusing(addresses: &[&str]) -> Self {
        Self::start_with(Faults {
            refuse: addresses.iter().map(|a| (*a).to_owned()).collect(),
            ..Faults::default()
        })
        .await
    }

    /// Starts a sink with the given address faults.
    pub async fn start_with(faults: Faults) -> Self {
        let mut sink = Self {
            port: free_port(),
            folder: tempfile::tempdir().expect("temporary folder"),
            process: None,
            faults,
        };
        sink.resume().await;
        sink
    }

    /// `smtp://127.0.0.1:<port>`, for `mail.smtp_url`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn folder(&self) -> &Path {
        self.folder.path()
    }

    /// Starts the server again on the same port and waits until it accepts connections.
    pub async fn resume(&mut self) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sink.py");
        let mut command = Command::new("python3");
        command
            .arg(script)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(self.folder.path());
        for address in &self.faults.refuse {
            command.arg("--refuse").arg(address);
        }
        for address in &self.faults.defer {
            command.arg("--defer").arg(address);
        }
        command
            .arg("--defer-times")
            .arg(self.faults.defer_times.to_string())
            .arg("--delay-ms")
            .arg(self.faults.reply_delay_ms.to_string());
        let child = command.stdout(Stdio::null()).spawn().expect(
            "python3 runs the SMTP sink (deploy/scripts/ensure-services.sh installs aiosmtpd)",
        );
        self.process = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            if let Some(process) = &mut self.process
                && let Ok(Some(status)) = process.try_wait()
            {
                panic!("the SMTP sink exited with {status}: is aiosmtpd installed?");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the SMTP sink did not start listening on port {}",
            self.port
        );
    }

    /// Stops the server; mail sent meanwhile fails to connect.
    pub fn pause(&mut self) {
        if let Some(mut process) = self.process.take() {
            // A stalled server would not die of the signal until resumed.
            Command::new("kill")
                .args(["-CONT", &process.id().to_string()])
                .status()
                .ok();
            process.kill().ok();
            process.wait().ok();
        }
    }

    /// Stalls the server: connections are still accepted by the kernel, but nothing is answered
    /// until [`SmtpSink::unstall`], as a relay that hangs.
    pub fn stall(&self) {
        self.signal("-STOP");
    }

    pub fn unstall(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let process = self.process.as_ref().expect("the sink is running");
        let status = Command::new("kill")
            .args([signal, &process.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} the SMTP sink");
    }

    /// Every message received so far, in arrival order, as decoded JSON.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.folder.path())
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("message file");
                serde_json::from_str(&text).expect("message JSON")
            })
            .collect()
    }

    /// Waits up to `timeout` until at least `count` messages arrived; returns them all.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count || tokio::time::Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.pause();
    }
}
