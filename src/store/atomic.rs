//! Atomic file replacement: a reader (or a crash) sees the old content or the new, never a mix.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes `bytes` to `path` via a temporary file in the same folder, fsync and rename.
pub fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    replace(path, None, bytes)
}

/// Like [`write()`], but first moves the current `path` (if any) to `previous`. A crash between
/// the two renames leaves the old content at `previous` and nothing at `path`.
pub fn write_keeping_previous(path: &Path, previous: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    replace(path, Some(previous), bytes)
}

fn replace(path: &Path, previous: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| readable(tmp.as_file()))
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    if let Some(previous) = previous.filter(|_| path.exists()) {
        std::fs::rename(path, previous)
            .with_context(|| format!("cannot move {} aside", path.display()))?;
    }
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Make the renames durable; not all filesystems support syncing a folder.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Temporary files are created private (0600); results are ordinary files (0644).
fn readable(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

/// Serializes `value` as pretty JSON and writes it atomically to `path`.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write(path, text.as_bytes())
}

/// Reads and parses a JSON file, naming it in errors.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
}

/// Like [`read_json`], but `None` when the file does not exist; any other error reading it
/// (permissions, a folder in its place, damaged JSON) is an error.
pub fn read_json_if_exists<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> anyhow::Result<Option<T>> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{} is damaged", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write_json(&path, &vec![1, 2]).unwrap();
        write_json(&path, &vec![3]).unwrap();
        assert_eq!(read_json::<Vec<i32>>(&path).unwrap(), [3]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn damaged_json_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "{\"status\": \"comp").unwrap();
        let msg = format!("{:#}", read_json::<serde_json::Value>(&path).unwrap_err());
        assert!(msg.contains("r.json is damaged"), "{msg}");
    }
}
