//! Traces are big and often compressed: `analyzer check -` reads standard input,
//! and a pipe or `<(zcat trace.std.gz)` works like a file.

use std::io::Write;
use std::process::{Command, Stdio};

const ABBA: &str = "\
T0|acq(A)|1
T0|acq(B)|2
T0|rel(B)|3
T0|rel(A)|4
T1|acq(B)|5
T1|acq(A)|6
T1|rel(A)|7
T1|rel(B)|8
";

fn check_with_stdin(args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .arg("check")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_trace_on_standard_input_is_checked() {
    let (code, out, err) = check_with_stdin(&["-"], ABBA.as_bytes());
    assert_eq!(code, 1, "the deadlock fails the check: {out}{err}");
    assert!(out.contains("predicted-deadlock"), "{out}");
}

#[test]
fn dev_stdin_is_read_like_a_file() {
    if !std::path::Path::new("/dev/stdin").exists() {
        return;
    }
    let (code, out, err) = check_with_stdin(&["/dev/stdin"], ABBA.as_bytes());
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("predicted-deadlock"), "{out}");
}

#[test]
fn garbage_on_standard_input_is_an_error_naming_it() {
    let (code, _, err) = check_with_stdin(&["-"], b"not a trace\n");
    assert_eq!(code, 2);
    assert!(err.contains("<stdin>") && err.contains("byte 0"), "{err}");
}
