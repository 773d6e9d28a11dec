//! Opens the `analyzer report` page of an ABBA trace in a real headless Chromium:
//! no console errors, the expected elements present, and a screenshot saved to
//! `target/browser-artifacts/index.png` for CI to keep. Skipped, saying why, where
//! Chromium is not installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one Chromium run may take before the test gives up on it.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

fn chromium() -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("browser-artifacts")
}

/// Runs headless Chromium on `page` with `extra` flags; returns (stdout, stderr).
fn run_chromium(browser: &Path, page: &Path, extra: &[String]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            panic!("chromium did not finish within {CHROMIUM_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Console messages and uncaught errors Chromium logged for the page.
fn console_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect()
}

#[test]
fn report_page_renders_in_chromium_without_errors() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: chromium not installed (apt-get install chromium)");
        return;
    };
    let artifacts = artifacts();
    let report = artifacts.join("report");
    std::fs::create_dir_all(&report).unwrap();
    let trace = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/abba.std");
    let out = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .arg("report")
        .arg(&trace)
        .arg("--out")
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = report.join("index.html").canonicalize().unwrap();

    let (dom, stderr) = run_chromium(&browser, &page, &["--dump-dom".to_owned()]);
    let errors = console_errors(&stderr);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    assert!(dom.contains("id=\"summary-table\""), "summary table: {dom}");
    assert!(
        dom.contains("<td><code>predicted-deadlock</code></td>"),
        "{dom}"
    );
    assert!(dom.contains("class=\"finding error\""), "a finding section");
    assert!(
        dom.contains("<table class=\"coffman\">"),
        "the Coffman table"
    );
    assert!(dom.contains("circular wait"));
    assert!(dom.matches("<svg").count() >= 2, "inline SVGs: {dom}");

    let screenshot = artifacts.join("index.png");
    let _ = std::fs::remove_file(&screenshot);
    run_chromium(
        &browser,
        &page,
        &[format!("--screenshot={}", screenshot.display())],
    );
    let png = std::fs::read(&screenshot).expect("a screenshot was written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(png.len() > 20_000, "a blank page is smaller than a report");
}

#[test]
fn console_errors_are_detected() {
    // The check above passes on silence; prove it would see an error.
    let Some(browser) = chromium() else {
        eprintln!("skipped: chromium not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("broken.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>",
    )
    .unwrap();
    let (_, stderr) = run_chromium(&browser, &page, &["--dump-dom".to_owned()]);
    assert!(!console_errors(&stderr).is_empty(), "{stderr}");
}
