//! A trial's `metrics.csv` (or a program trial's `metrics.jsonl`) read as it grows: each
//! refresh reads only the bytes appended since the last one (workers append one row per step).
//! A file replaced or shortened (a resumed trial's rows cut back to its checkpoint, written
//! anew) is read again from the start. Rows are shared (`Arc`), so handing them out costs
//! nothing; a reader that appends while they are held copies them once. [`CurvesTail`] reads
//! whichever file a trial's kind writes, as [`Curves`]: the one reader the dashboard and the
//! Slurm follower share.

use std::io::{Read, Seek, SeekFrom};
use std::marker::PhantomData;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;

use super::curves::Curves;
use super::program_metrics::{self, ProgramRow};
use super::{MetricRow, TrialDir};
use crate::spec::TrialConfig;

/// How a metrics file's complete lines become rows.
pub trait TailFormat {
    /// One row.
    type Row: Clone + std::fmt::Debug;
    /// The rows of `complete` (whole lines; `first` when they begin the file), up to the first
    /// damaged line, and what is wrong with it.
    fn parse(complete: &[u8], first: bool) -> (Vec<Self::Row>, Option<String>);
}

/// `metrics.csv`: a header line, then one [`MetricRow`] a line.
#[derive(Debug, Clone)]
pub struct Csv;

impl TailFormat for Csv {
    type Row = MetricRow;

    fn parse(complete: &[u8], first: bool) -> (Vec<MetricRow>, Option<String>) {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(complete);
        let mut rows = Vec::new();
        for (i, record) in reader.records().enumerate() {
            if first && i == 0 {
                continue;
            }
            match record.and_then(|r| r.deserialize::<MetricRow>(None)) {
                Ok(row) => rows.push(row),
                Err(e) => return (rows, Some(e.to_string())),
            }
        }
        (rows, None)
    }
}

/// A program trial's `metrics.jsonl`: its rows (checkpoint markers yield none).
#[derive(Debug, Clone)]
pub struct Jsonl;

impl TailFormat for Jsonl {
    type Row = ProgramRow;

    fn parse(complete: &[u8], _first: bool) -> (Vec<ProgramRow>, Option<String>) {
        let (lines, damage) = program_metrics::parse_all(complete);
        (program_metrics::rows(&lines), damage)
    }
}

/// The rows of one metrics file, kept up to date by [`MetricsTail::refresh`].
#[derive(Debug, Clone)]
pub struct MetricsTail<F: TailFormat = Csv> {
    path: PathBuf,
    /// The file read so far (device and inode), to notice a replaced file.
    identity: Option<(u64, u64)>,
    /// Bytes consumed: up to the end of the last complete line.
    offset: u64,
    rows: Arc<Vec<F::Row>>,
    /// Why reading stopped before the end (a damaged row), if it did.
    damaged: Option<String>,
    format: PhantomData<F>,
}

impl<F: TailFormat> MetricsTail<F> {
    /// A reader of the metrics file at `path` (which may not exist yet).
    pub fn new(path: PathBuf) -> MetricsTail<F> {
        MetricsTail {
            path,
            identity: None,
            offset: 0,
            rows: Arc::new(Vec::new()),
            damaged: None,
            format: PhantomData,
        }
    }

    /// The rows read so far.
    pub fn rows(&self) -> &Arc<Vec<F::Row>> {
        &self.rows
    }

    /// Why the rows end before the file does (a damaged row), if they do.
    pub fn damaged(&self) -> Option<&str> {
        self.damaged.as_deref()
    }

    /// Reads what was appended since the last call; true when the rows changed.
    pub fn refresh(&mut self) -> bool {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            let had = !self.rows.is_empty();
            self.reset(None);
            return had;
        };
        let Ok(meta) = file.metadata() else {
            return false;
        };
        let identity = Some((meta.dev(), meta.ino()));
        let mut changed = false;
        if identity != self.identity || meta.len() < self.offset {
            changed = !self.rows.is_empty();
            self.reset(identity);
        }
        if meta.len() == self.offset || self.damaged.is_some() {
            return changed;
        }
        let mut appended = Vec::new();
        if file.seek(SeekFrom::Start(self.offset)).is_err()
            || file.read_to_end(&mut appended).is_err()
        {
            return changed;
        }
        // Only complete lines: a worker may be halfway through writing the last one.
        let Some(end) = appended.iter().rposition(|&b| b == b'\n') else {
            return changed;
        };
        let complete = &appended[..=end];
        let (new_rows, damage) = F::parse(complete, self.offset == 0);
        if let Some(e) = damage {
            self.damaged = Some(format!("{} is damaged: {e}", self.path.display()));
        }
        self.offset += complete.len() as u64;
        if !new_rows.is_empty() {
            Arc::make_mut(&mut self.rows).extend(new_rows);
            changed = true;
        }
        changed
    }

    fn reset(&mut self, identity: Option<(u64, u64)>) {
        self.identity = identity;
        self.offset = 0;
        self.rows = Arc::new(Vec::new());
        self.damaged = None;
    }
}

/// A trial's rows read on from where they were read last, whichever kind of trial it is:
/// the built-in model's `metrics.csv` or a program's `metrics.jsonl`.
#[derive(Debug, Clone)]
pub enum CurvesTail {
    /// The built-in model's rows.
    Model(MetricsTail<Csv>),
    /// A program's rows.
    Program(MetricsTail<Jsonl>),
}

impl CurvesTail {
    /// A reader of the rows of the trial configured as `config`, in `dir`.
    pub fn for_trial(dir: &TrialDir, config: &TrialConfig) -> CurvesTail {
        if config.program().is_some() {
            CurvesTail::Program(MetricsTail::new(dir.program_metrics_path()))
        } else {
            CurvesTail::Model(MetricsTail::new(dir.metrics_path()))
        }
    }

    /// Reads what was appended since the last call; true when the rows changed.
    pub fn refresh(&mut self) -> bool {
        match self {
            CurvesTail::Model(t) => t.refresh(),
            CurvesTail::Program(t) => t.refresh(),
        }
    }

    /// The rows read so far (shared, so this costs nothing).
    pub fn curves(&self) -> Curves {
        match self {
            CurvesTail::Model(t) => Curves::Model(Arc::clone(t.rows())),
            CurvesTail::Program(t) => Curves::Program(Arc::clone(t.rows())),
        }
    }

    /// Why the rows end before the file does (a damaged row), if they do.
    pub fn damaged(&self) -> Option<&str> {
        match self {
            CurvesTail::Model(t) => t.damaged(),
            CurvesTail::Program(t) => t.damaged(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_program_metrics_file_is_read_on_where_it_was_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut tail = MetricsTail::<Jsonl>::new(path.clone());
        let mut file = std::fs::File::create(&path).unwrap();
        write!(
            file,
            "{{\"step\":10,\"elapsed_s\":1,\"val_loss\":2.5}}\n{{\"checkpoint\":10}}\n{{\"step\":20,"
        )
        .unwrap();
        file.flush().unwrap();
        assert!(tail.refresh());
        assert_eq!(
            tail.rows().len(),
            1,
            "the marker is no row, the torn line waits"
        );
        writeln!(file, "\"elapsed_s\":2,\"val_loss\":\"nan\"}}").unwrap();
        file.flush().unwrap();
        assert!(tail.refresh());
        assert_eq!(tail.rows()[1].step, 20);
        assert!(tail.rows()[1].values["val_loss"].is_nan());
        assert!(!tail.refresh(), "nothing new");
    }

    const HEADER: &str = "step,train_loss,train_ppl,heldout_ppl,elapsed_s\n";

    #[test]
    fn reads_appended_rows_only_and_starts_over_when_the_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut tail: MetricsTail = MetricsTail::new(path.clone());
        assert!(!tail.refresh(), "no file yet");

        let mut file = std::fs::File::create(&path).unwrap();
        write!(file, "{HEADER}1,2.0,7.38,,0.1\n2,1.9,6.68,6.5,0.2\n3,1.8").unwrap();
        file.flush().unwrap();
        assert!(tail.refresh());
        let steps: Vec<usize> = tail.rows().iter().map(|r| r.step).collect();
        assert_eq!(steps, [1, 2], "the torn third line waits");
        assert_eq!(tail.rows()[1].heldout_ppl, Some(6.5));
        assert_eq!(tail.rows()[0].heldout_ppl, None);

        let held = Arc::clone(tail.rows());
        writeln!(file, ",6.05,,0.3").unwrap();
        file.flush().unwrap();
        assert!(tail.refresh());
        assert_eq!(tail.rows().len(), 3);
        assert_eq!(held.len(), 2, "rows handed out stay as they were");
        assert!(!tail.refresh(), "nothing new");

        // Rewritten with fewer rows (a resume cuts back to the checkpoint): read anew.
        let tmp = dir.path().join("new.csv");
        std::fs::write(&tmp, format!("{HEADER}1,2.0,7.38,,0.1\n")).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert!(tail.refresh());
        assert_eq!(tail.rows().len(), 1);

        std::fs::write(
            &path,
            format!("{HEADER}1,2.0,7.38,,0.1\nx,y\n2,1.9,6.68,,0.2\n"),
        )
        .unwrap();
        tail.refresh();
        assert_eq!(tail.rows().len(), 1);
        assert!(tail.damaged().unwrap().contains("is damaged"));
    }
}
