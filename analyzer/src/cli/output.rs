//! Writing results: to standard output, or atomically to a file.

use std::fs::{self, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Writes `bytes` to standard output. A closed pipe (`analyzer … | head`) is not an error.
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e).context("standard output"),
        _ => Ok(()),
    }
}

/// Writes `path` atomically: `write` fills a temporary file next to it, which is
/// then renamed over `path`, so readers never see a half-written file and a
/// failure leaves any previous `path` untouched.
///
/// A `path` that exists and is not a regular file (`/dev/null`, `/dev/stdout`, a
/// FIFO) is written in place: renaming over it would replace the device with a
/// plain file, which as root breaks every later user of `/dev/null`.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    if fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return write_in_place(path, write);
    }
    let temp = temp_path(path)?;
    let result = (|| -> Result<()> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .with_context(|| format!("{}: cannot create", temp.display()))?;
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("{}", path.display()))?;
        file.sync_all()
            .with_context(|| format!("{}", path.display()))?;
        drop(file);
        fs::rename(&temp, path).with_context(|| format!("{}: cannot replace", path.display()))
    })();
    if result.is_err() {
        // Best effort: the temporary file is ours and useless now.
        let _ = fs::remove_file(&temp);
    }
    result
}

fn write_in_place(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("{}: cannot open for writing", path.display()))?;
    let mut out = BufWriter::new(file);
    write(&mut out)?;
    out.flush().with_context(|| format!("{}", path.display()))
}

/// `dir/.name.<pid>.tmp`: same directory (so rename stays on one file system), hidden, per process.
fn temp_path(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?
        .to_string_lossy()
        .into_owned();
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        anyhow::bail!("{}: no such directory", dir.display());
    }
    Ok(dir.join(format!(".{name}.{}.tmp", std::process::id())))
}

/// Writes `bytes` to `path` atomically.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, |out| {
        out.write_all(bytes)
            .with_context(|| format!("{}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        fs::write(&path, "old").unwrap();
        write_file(&path, b"new\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.std");
        fs::write(&path, "old").unwrap();
        let err = write_atomically(&path, |out| {
            out.write_all(b"partial")?;
            anyhow::bail!("conversion failed")
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "conversion failed");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert!(!temp_path(&path).unwrap().exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_through_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("mkfifo unavailable; skipping");
            return;
        }
        let reader = {
            let path = path.clone();
            std::thread::spawn(move || fs::read(path).unwrap())
        };
        write_file(&path, b"through the pipe\n").unwrap();
        // Checked before joining: had the FIFO been replaced, the reader would wait forever.
        assert!(fs::metadata(&path).unwrap().file_type().is_fifo());
        assert_eq!(reader.join().unwrap(), b"through the pipe\n");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn missing_directory_is_an_error_naming_it() {
        let err = write_file(Path::new("/nonexistent-dir-for-test/x.json"), b"x").unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent-dir-for-test"),
            "{err}"
        );
    }
}
