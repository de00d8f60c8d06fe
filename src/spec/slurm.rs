//! The `slurm` section of a grid file: how trials are submitted when the sweep runs on a Slurm
//! cluster (`--executor slurm`). Like the other run options, none of it changes results.

use serde_json::{Map, Value};

use super::params::{describe, suggest};

/// Keys allowed in the `slurm` section.
const KEYS: &[&str] = &[
    "partition",
    "cpus_per_task",
    "memory",
    "time_limit",
    "max_parallel",
    "sbatch_args",
];

/// How trials are submitted to Slurm: one job array per submission, each task one trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmOptions {
    /// `--partition`; the cluster's default when `None`.
    pub partition: Option<String>,
    /// `--cpus-per-task`: the threads each trial trains on.
    pub cpus_per_task: u32,
    /// `--mem`, e.g. `"2G"`; the cluster's default when `None`.
    pub memory: Option<String>,
    /// `--time`, e.g. `"02:00:00"`; a task that hits it is resubmitted and resumes from its
    /// checkpoint.
    pub time_limit: Option<String>,
    /// Most tasks of an array running at once (`--array=…%K`); no limit when `None`.
    pub max_parallel: Option<u32>,
    /// Further `sbatch` arguments, passed as they are (e.g. `["--qos=short"]`).
    pub sbatch_args: Vec<String>,
    /// `--gres=gpu:N`: the GPUs of each task (from the grid file's `resources.gpus`).
    pub gpus_per_task: Option<u32>,
    /// Trials run side by side in one task, sharing its GPU (k for a share 1/k of a GPU).
    pub trials_per_task: u32,
}

impl Default for SlurmOptions {
    fn default() -> Self {
        SlurmOptions {
            partition: None,
            cpus_per_task: 1,
            memory: None,
            time_limit: None,
            max_parallel: None,
            sbatch_args: Vec::new(),
            gpus_per_task: None,
            trials_per_task: 1,
        }
    }
}

impl SlurmOptions {
    /// Reads the section; errors name the key (`slurm.<key>`) and what was expected.
    pub fn from_json(value: &Value) -> Result<SlurmOptions, (String, String)> {
        let at = |key: &str| format!("slurm.{key}");
        let obj: &Map<String, Value> = value.as_object().ok_or_else(|| {
            (
                "slurm".to_string(),
                format!("expected a JSON object, got {}", describe(value)),
            )
        })?;
        let mut out = SlurmOptions::default();
        for (key, v) in obj {
            let fail = |what: &str| (at(key), format!("expected {what}, got {}", describe(v)));
            match key.as_str() {
                "partition" => {
                    out.partition = Some(word(v).ok_or_else(|| fail("a partition name"))?)
                }
                "cpus_per_task" => {
                    out.cpus_per_task =
                        count(v, 1024).ok_or_else(|| fail("an integer from 1 to 1024"))?
                }
                "memory" => {
                    let m = word(v).filter(|m| is_memory(m));
                    out.memory = Some(m.ok_or_else(|| fail("a size such as \"2G\" or \"500M\""))?)
                }
                "time_limit" => {
                    let t = word(v).filter(|t| is_time(t));
                    out.time_limit = Some(t.ok_or_else(|| {
                        fail(
                            "a Slurm time such as \"90\" (minutes), \"02:00:00\" or \"1-00:00:00\"",
                        )
                    })?)
                }
                "max_parallel" => {
                    out.max_parallel =
                        Some(count(v, 100_000).ok_or_else(|| fail("an integer from 1"))?)
                }
                "sbatch_args" => {
                    let list = v.as_array().and_then(|a| {
                        a.iter()
                            .map(|x| x.as_str().map(String::from))
                            .collect::<Option<Vec<_>>>()
                    });
                    out.sbatch_args = list.ok_or_else(|| fail("a list of strings"))?
                }
                _ => {
                    let hint = suggest(key, KEYS)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    return Err((
                        at(key),
                        format!("unknown key; expected one of: {}{hint}", KEYS.join(", ")),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// A non-empty string without whitespace.
fn word(v: &Value) -> Option<String> {
    v.as_str()
        .filter(|s| !s.is_empty() && !s.chars().any(char::is_whitespace))
        .map(String::from)
}

fn count(v: &Value, max: u64) -> Option<u32> {
    v.as_u64()
        .filter(|n| (1..=max).contains(n))
        .map(|n| n as u32)
}

/// `sbatch --mem` sizes: digits with an optional K, M, G or T.
fn is_memory(m: &str) -> bool {
    let digits = m.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    !digits.is_empty() && digits.len() + 1 >= m.len() && digits.chars().all(|c| c.is_ascii_digit())
}

/// Slurm time formats: minutes, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`.
fn is_time(t: &str) -> bool {
    let (days, rest) = match t.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, t),
    };
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = rest.split(':').collect();
    days.is_none_or(numeric) && parts.len() <= 3 && parts.iter().all(|p| numeric(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_key() {
        let o = SlurmOptions::from_json(&json!({
            "partition": "gpu", "cpus_per_task": 2, "memory": "4G", "time_limit": "1-02:00:00",
            "max_parallel": 8, "sbatch_args": ["--qos=short"]
        }))
        .unwrap();
        assert_eq!(o.partition.as_deref(), Some("gpu"));
        assert_eq!((o.cpus_per_task, o.max_parallel), (2, Some(8)));
        assert_eq!(o.memory.as_deref(), Some("4G"));
        assert_eq!(o.time_limit.as_deref(), Some("1-02:00:00"));
        assert_eq!(o.sbatch_args, ["--qos=short"]);
        assert_eq!(
            SlurmOptions::from_json(&json!({})).unwrap(),
            SlurmOptions::default()
        );
    }

    #[test]
    fn errors_name_the_key_and_what_was_expected() {
        let cases = [
            (json!({"memory": "lots"}), "slurm.memory", "a size such as"),
            (
                json!({"time_limit": "1h"}),
                "slurm.time_limit",
                "a Slurm time",
            ),
            (
                json!({"cpus_per_task": 0}),
                "slurm.cpus_per_task",
                "from 1 to 1024",
            ),
            (
                json!({"max_paralel": 2}),
                "slurm.max_paralel",
                "did you mean `max_parallel`",
            ),
            (
                json!({"sbatch_args": "--qos=x"}),
                "slurm.sbatch_args",
                "a list of strings",
            ),
            (
                json!({"partition": "a b"}),
                "slurm.partition",
                "a partition name",
            ),
            (json!([1]), "slurm", "a JSON object"),
        ];
        for (value, key, message) in cases {
            let (k, m) = SlurmOptions::from_json(&value).unwrap_err();
            assert_eq!(k, key);
            assert!(m.contains(message), "{k}: {m}");
        }
    }
}
