//! Helpers for the end-to-end tests: the example binaries, built once per run, and a
//! `b24 sandbox` portal running as its own process.
// Test code: a failure should stop the test where it happened.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

/// The path of a binary of the `bitrix24-examples` package (`examples/NAME` for an example),
/// built (once) first.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let path = dir.join(name);
    // Built once per run even when present: a binary left from an older build would test
    // old code (cargo does not rebuild another package's binaries for these tests).
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "bitrix24-examples", "--bins", "--examples"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the binaries failed");
    });
    path
}

/// A `b24 sandbox` process, stopped when dropped.
#[derive(Debug)]
pub struct Sandbox {
    child: Child,
    /// The portal's webhook URL.
    pub webhook: String,
}

impl Sandbox {
    /// Starts `b24 sandbox` on a free port with the standard plan's limits and `seed_leads`
    /// leads.
    pub fn start(seed_leads: u32) -> Self {
        Self::start_with(&["--seed-leads", &seed_leads.to_string()])
    }

    /// Starts `b24 sandbox` on a free port with the standard plan and these extra arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        let mut child = Command::new(binary("b24"))
            .args(["sandbox", "--port", "0", "--plan", "standard"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("b24 sandbox starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut webhook = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(url) = line.strip_prefix("webhook: ") {
                webhook = Some(url.trim().to_owned());
                break;
            }
        }
        // Keep reading, as a terminal would: the rest of the output must not meet a closed
        // pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let webhook = webhook.expect("b24 sandbox prints a `webhook: …` line");
        assert!(
            webhook.starts_with("http://127.0.0.1:") && webhook.contains("/rest/1/"),
            "{webhook}"
        );
        Self { child, webhook }
    }

    /// The webhook's secret: the part of the URL that must never be printed or written.
    pub fn secret(&self) -> &str {
        self.webhook
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap()
    }

    /// Runs `b24 ARGS --webhook <this portal>`.
    pub fn b24(&self, args: &[&str]) -> Output {
        Command::new(binary("b24"))
            .args(args)
            .args(["--webhook", &self.webhook])
            .env_remove("BITRIX24_WEBHOOK_URL")
            .output()
            .unwrap()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard output or error as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
