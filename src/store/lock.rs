//! Exclusive locks on files (`flock`), held for a process's lifetime and released by the
//! kernel when it exits however it exits, so a lock left by a dead process is free again.
//! The holder's PID is written into the file so that others can name it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A held lock; released on drop.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    path: PathBuf,
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live process holds it.
    #[error("held by process {}", pid.map_or_else(|| "(unknown pid)".to_string(), |p| p.to_string()))]
    Held { pid: Option<u32> },
    /// The lock file could not be opened; the reason is the source, not repeated in the message.
    #[error("cannot open lock file {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl FileLock {
    /// Takes the lock at `path` (creating the file) or fails at once naming the holder.
    pub fn try_acquire(path: &Path) -> Result<FileLock, LockError> {
        let io = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    pid: read_pid(&mut file),
                })
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(FileLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// Like [`FileLock::try_acquire`], retrying until `patience` has passed.
    pub fn acquire_within(path: &Path, patience: Duration) -> Result<FileLock, LockError> {
        let deadline = Instant::now() + patience;
        loop {
            match FileLock::try_acquire(path) {
                Err(LockError::Held { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                other => return other,
            }
        }
    }

    /// The PID of the live holder of the lock at `path`, if any; changes nothing.
    pub fn holder(path: &Path) -> std::io::Result<Option<Option<u32>>> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match file.try_lock() {
            Ok(()) => Ok(None),
            Err(std::fs::TryLockError::WouldBlock) => Ok(Some(read_pid(&mut file))),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_the_lock_frees_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let held = FileLock::try_acquire(&path).unwrap();
        // flock locks belong to open file descriptions, so a second open conflicts even in
        // the same process.
        match FileLock::try_acquire(&path) {
            Err(LockError::Held { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Held, got {other:?}"),
        }
        assert_eq!(
            FileLock::holder(&path).unwrap(),
            Some(Some(std::process::id()))
        );
        drop(held);
        assert_eq!(FileLock::holder(&path).unwrap(), None);
        FileLock::try_acquire(&path).unwrap();
    }
}
