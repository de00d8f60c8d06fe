//! Loading and preprocessing a corpus: the embedded Time Machine or any UTF-8 text file.
//!
//! Preprocessing follows the reference recipe: lowercase the whole text, strip each line, drop
//! empty lines, and join the lines with no separator.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// H. G. Wells, *The Time Machine* (public domain), shipped inside the binary.
pub const TIME_MACHINE: &str = include_str!("../../data/timemachine.txt");

/// Name of the built-in corpus in grid files.
pub const TIME_MACHINE_NAME: &str = "timemachine";

/// Where a corpus comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CorpusSource {
    /// The embedded Time Machine text.
    #[default]
    TimeMachine,
    /// A UTF-8 text file.
    File(PathBuf),
}

impl CorpusSource {
    /// `"timemachine"` means the built-in corpus; anything else is a path relative to `base_dir`.
    pub fn from_name_or_path(name: &str, base_dir: &Path) -> CorpusSource {
        if name == TIME_MACHINE_NAME {
            CorpusSource::TimeMachine
        } else {
            CorpusSource::File(base_dir.join(name))
        }
    }
}

/// A problem loading a corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file could not be read; the reason is the source, not repeated in the message.
    #[error("cannot read corpus {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("corpus {path} is not UTF-8 text: invalid byte at line {line} (byte offset {offset})")]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        offset: usize,
    },
    /// The path is a FIFO, a device or a folder: only regular files are read.
    #[error("corpus {path} is not a regular file (a folder, FIFO or device)")]
    NotAFile { path: PathBuf },
    /// The file is larger than sweep reads as a corpus.
    #[error("corpus {path} is {bytes} bytes; a corpus may hold at most {limit} bytes")]
    TooLarge {
        path: PathBuf,
        bytes: u64,
        limit: u64,
    },
    /// Nothing is left after preprocessing.
    #[error("corpus {path} contains no text")]
    Empty { path: PathBuf },
    /// The file differs from the one the trial was planned with.
    #[error(
        "corpus {path} changed since the sweep was planned (SHA-256 {found}, expected {expected})"
    )]
    Changed {
        path: PathBuf,
        found: String,
        expected: String,
    },
}

/// The largest corpus file sweep reads (256 MiB): a character model's corpus is text held in
/// memory by every worker.
pub const MAX_CORPUS_BYTES: u64 = 256 << 20;

/// A preprocessed corpus.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// `timemachine` or the path as written in the grid file.
    pub name: String,
    /// Absolute path of the file; `None` for the built-in corpus.
    pub path: Option<PathBuf>,
    /// SHA-256 (hex) of the raw bytes.
    pub sha256: String,
    /// The preprocessed text.
    pub text: String,
    chars: usize,
}

impl Corpus {
    /// The embedded Time Machine.
    pub fn builtin() -> Corpus {
        Corpus::from_text(TIME_MACHINE_NAME, None, TIME_MACHINE)
    }

    /// Loads the corpus `source` points to.
    pub fn load(source: &CorpusSource) -> Result<Corpus, CorpusError> {
        match source {
            CorpusSource::TimeMachine => Ok(Corpus::builtin()),
            CorpusSource::File(path) => Corpus::load_file(path, &path.display().to_string()),
        }
    }

    /// Loads a corpus file, naming it `name` in reports.
    pub fn load_file(path: &Path, name: &str) -> Result<Corpus, CorpusError> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let io = |source| CorpusError::Io {
            path: path.to_path_buf(),
            source,
        };
        // Non-blocking, so that opening a FIFO returns at once (and is refused below).
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(CorpusError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        let too_large = |bytes| CorpusError::TooLarge {
            path: path.to_path_buf(),
            bytes,
            limit: MAX_CORPUS_BYTES,
        };
        if meta.len() > MAX_CORPUS_BYTES {
            return Err(too_large(meta.len()));
        }
        // A file that grows while it is read stops at the limit too.
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_CORPUS_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_CORPUS_BYTES {
            return Err(too_large(bytes.len() as u64));
        }
        let raw = std::str::from_utf8(&bytes).map_err(|e| {
            let offset = e.valid_up_to();
            CorpusError::NotUtf8 {
                path: path.to_path_buf(),
                line: bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1,
                offset,
            }
        })?;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let corpus = Corpus::from_text(name, Some(absolute), raw);
        if corpus.is_empty() {
            return Err(CorpusError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(corpus)
    }

    /// Reloads the corpus a trial was planned with and checks it is byte-for-byte the same.
    pub fn reload(name: &str, path: Option<&Path>, sha256: &str) -> Result<Corpus, CorpusError> {
        let corpus = match path {
            None => Corpus::builtin(),
            Some(p) => Corpus::load_file(p, name)?,
        };
        if corpus.sha256 != sha256 {
            return Err(CorpusError::Changed {
                path: path.map_or_else(|| name.into(), Path::to_path_buf),
                found: corpus.sha256,
                expected: sha256.into(),
            });
        }
        Ok(corpus)
    }

    fn from_text(name: &str, path: Option<PathBuf>, raw: &str) -> Corpus {
        let sha256 = Sha256::digest(raw.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let text = preprocess(raw);
        Corpus {
            name: name.into(),
            path,
            sha256,
            chars: text.chars().count(),
            text,
        }
    }

    /// Number of characters after preprocessing.
    pub fn len(&self) -> usize {
        self.chars
    }

    /// True when no characters are left after preprocessing.
    pub fn is_empty(&self) -> bool {
        self.chars == 0
    }
}

/// Lowercases, strips every line, drops empty lines and joins the rest with no separator.
pub fn preprocess(raw: &str) -> String {
    raw.to_lowercase()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads the NUL-terminated path only.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for path in [fifo.as_path(), dir.path(), Path::new("/dev/zero")] {
            let e = Corpus::load_file(path, "x").unwrap_err();
            assert!(matches!(e, CorpusError::NotAFile { .. }), "{e}");
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        let big = dir.path().join("big.txt");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_CORPUS_BYTES + 1).unwrap();
        let e = Corpus::load_file(&big, "x").unwrap_err();
        assert!(e.to_string().contains("at most 268435456 bytes"), "{e}");
    }

    #[test]
    fn preprocessing_matches_the_reference() {
        assert_eq!(
            preprocess("  The Time\r\n\n  Machine \n\nBy H.G.\n"),
            "the timemachineby h.g."
        );
    }

    #[test]
    fn builtin_corpus_has_the_reference_length() {
        // Python: ''.join(l.strip() for l in open(f).read().lower().split('\n') if l.strip())
        let c = Corpus::builtin();
        assert_eq!(c.len(), 175_758);
        assert!(c
            .text
            .starts_with("the time machine, by h. g. wells [1898]i"));
        assert_eq!(TIME_MACHINE.len(), 178_979);
    }

    #[test]
    fn non_utf8_file_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1.txt");
        std::fs::write(&path, b"hello\nworld\ncaf\xe9\n").unwrap();
        let msg = Corpus::load(&CorpusSource::File(path.clone()))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("is not UTF-8 text: invalid byte at line 3"),
            "{msg}"
        );
        assert!(msg.contains(&path.display().to_string()), "{msg}");
    }

    #[test]
    fn missing_and_empty_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.txt");
        let msg = Corpus::load(&CorpusSource::File(missing))
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("cannot read corpus"), "{msg}");
        let blank = dir.path().join("blank.txt");
        std::fs::write(&blank, "  \n\n \t\n").unwrap();
        let msg = Corpus::load(&CorpusSource::File(blank))
            .unwrap_err()
            .to_string();
        assert!(msg.ends_with("contains no text"), "{msg}");
    }

    #[test]
    fn reload_detects_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "abc\n").unwrap();
        let c = Corpus::load(&CorpusSource::File(path.clone())).unwrap();
        assert!(Corpus::reload(&c.name, c.path.as_deref(), &c.sha256).is_ok());
        std::fs::write(&path, "abd\n").unwrap();
        let msg = Corpus::reload(&c.name, c.path.as_deref(), &c.sha256)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("changed since the sweep was planned"), "{msg}");
    }
}
