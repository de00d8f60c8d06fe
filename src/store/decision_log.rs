//! A log of scheduler decisions in a results folder: one JSON value per line, each appended
//! and synced to disk before it is acted on, so that a resumed (or followed) search reads them
//! back instead of deciding again.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The records of the log at `path`, in order (none when it does not exist). A last line
/// without its newline is a crash in the middle of an append, of a decision never acted on:
/// it is left out (and decided again). Any other line that cannot be read is damage, named by
/// file and line with how to repair it.
pub fn read<T: DeserializeOwned>(path: &Path) -> anyhow::Result<Vec<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut records = Vec::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if !line.ends_with('\n') {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(line).map_err(|e| {
            anyhow::anyhow!(
                "{} is damaged at line {}: {e}; remove that line and the ones after it (sweep \
                 decides them again from the stored results)",
                path.display(),
                i + 1
            )
        })?;
        records.push(record);
    }
    Ok(records)
}

/// Appends one record (synced to disk before it is acted on). A torn last line left by a
/// crash is cut off first, so the record starts a line of its own.
pub fn append<T: Serialize>(path: &Path, record: &T) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    cut_torn_line(&mut file).with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "{}", serde_json::to_string(record)?)?;
    file.sync_all()?;
    Ok(())
}

/// Truncates `file` after its last newline when it does not end with one.
fn cut_torn_line(file: &mut std::fs::File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    let mut text = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut text)?;
    let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    file.set_len(keep as u64)
}

/// Replaces the log with `records` at once (a crash leaves the old log or the new).
pub fn rewrite<T: Serialize>(path: &Path, records: &[T]) -> anyhow::Result<()> {
    let mut text = String::new();
    for record in records {
        text.push_str(&serde_json::to_string(record)?);
        text.push('\n');
    }
    super::atomic::write(path, text.as_bytes())
}

/// Removes the log (a new search over the folder).
pub fn clear(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_left_out_and_cut_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        std::fs::write(&path, "1\n2\n{\"a\": 3").unwrap();
        assert_eq!(read::<u32>(&path).unwrap(), [1, 2]);
        append(&path, &4u32).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n2\n4\n");
        assert_eq!(read::<u32>(&path).unwrap(), [1, 2, 4]);
    }

    #[test]
    fn a_damaged_line_before_the_last_is_named_with_the_repair() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        std::fs::write(&path, "1\n\nnot json\n4\n").unwrap();
        let e = read::<u32>(&path).unwrap_err().to_string();
        assert!(e.contains("log.jsonl is damaged at line 3: "), "{e}");
        assert!(e.contains("remove that line and the ones after it"), "{e}");
        // A complete last line that cannot be read is damage too, not a torn append.
        std::fs::write(&path, "1\n{\"a\"\n").unwrap();
        assert!(read::<u32>(&path).is_err());
    }
}
