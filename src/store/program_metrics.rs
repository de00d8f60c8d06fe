//! A program trial's `metrics.jsonl`: the metrics lines its program printed, one JSON object a
//! line, with `{"checkpoint": n}` markers where it said it saved a checkpoint at step `n`.
//!
//! Rows are free-form (`{"step": 10, "elapsed_s": 1.2, "val_loss": 2.1}`): programs report
//! whichever keys they like, as often as they like. JSON has no infinity, so non-finite values
//! are stored as the strings `"nan"`, `"inf"` and `"-inf"`; the same parser reads the file and
//! the program's stdout (where Python's bare `NaN` and `Infinity` are accepted too).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One metrics line: a step, the training seconds at it, and the values reported there.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramRow {
    /// The step the values were measured at.
    pub step: usize,
    /// Seconds the program had been training (continues across resumes).
    pub elapsed_s: f64,
    /// The reported values by name (a `null` is left out).
    pub values: BTreeMap<String, f64>,
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgramLine {
    /// Metrics at a step.
    Row(ProgramRow),
    /// The program saved a checkpoint at this step.
    Checkpoint(usize),
}

impl ProgramLine {
    /// The line as stored (no newline).
    pub fn to_json(&self) -> String {
        match self {
            ProgramLine::Checkpoint(step) => format!("{{\"checkpoint\":{step}}}"),
            ProgramLine::Row(row) => {
                let mut obj = Map::new();
                obj.insert("step".into(), Value::from(row.step));
                obj.insert("elapsed_s".into(), number(row.elapsed_s));
                for (k, v) in &row.values {
                    obj.insert(k.clone(), number(*v));
                }
                Value::Object(obj).to_string()
            }
        }
    }

    /// Parses a stored line or a line a program printed. `elapsed_s` is what the row says, or
    /// `elapsed` when it says nothing. An error says what is wrong, for the program's author.
    pub fn parse(text: &str, elapsed: f64) -> Result<ProgramLine, String> {
        let value: Value = serde_json::from_str(&python_non_finite(text.trim()))
            .map_err(|e| format!("not a JSON object ({e})"))?;
        let Value::Object(obj) = value else {
            return Err("not a JSON object".into());
        };
        if let Some(step) = obj.get("checkpoint") {
            let step = step
                .as_u64()
                .filter(|_| obj.len() == 1)
                .ok_or("a checkpoint line is {\"checkpoint\": STEP} with a whole step")?;
            return Ok(ProgramLine::Checkpoint(step as usize));
        }
        let step = match obj.get("step") {
            Some(v) => v
                .as_u64()
                .ok_or_else(|| format!("`step` must be a whole number ≥ 0, got {v}"))?
                as usize,
            None => return Err("a metrics line needs a `step`".into()),
        };
        let mut values = BTreeMap::new();
        let mut elapsed_s = elapsed;
        for (key, v) in &obj {
            if key == "step" {
                continue;
            }
            let x = match v {
                Value::Null => continue,
                Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                Value::String(s) => match s.as_str() {
                    "nan" | "NaN" => f64::NAN,
                    "inf" | "Infinity" => f64::INFINITY,
                    "-inf" | "-Infinity" => f64::NEG_INFINITY,
                    _ => return Err(format!("`{key}` must be a number, got {v}")),
                },
                _ => return Err(format!("`{key}` must be a number, got {v}")),
            };
            if key == "elapsed_s" {
                elapsed_s = x;
            } else {
                values.insert(key.clone(), x);
            }
        }
        Ok(ProgramLine::Row(ProgramRow {
            step,
            elapsed_s,
            values,
        }))
    }
}

/// Reads the lines of a `metrics.jsonl`'s bytes up to the first damaged one (a kill can leave a
/// torn last line); the second value describes the damage.
pub fn parse_all(bytes: &[u8]) -> (Vec<ProgramLine>, Option<String>) {
    let mut lines = Vec::new();
    let text = String::from_utf8_lossy(bytes);
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if !line.ends_with('\n') {
            // Torn by a kill mid-write: left out, not damage.
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        match ProgramLine::parse(line, f64::NAN) {
            Ok(l) => lines.push(l),
            Err(e) => return (lines, Some(format!("line {}: {e}", i + 1))),
        }
    }
    (lines, None)
}

/// The rows among `lines`.
pub fn rows(lines: &[ProgramLine]) -> Vec<ProgramRow> {
    lines
        .iter()
        .filter_map(|l| match l {
            ProgramLine::Row(r) => Some(r.clone()),
            ProgramLine::Checkpoint(_) => None,
        })
        .collect()
}

fn number(x: f64) -> Value {
    if x.is_nan() {
        Value::from("nan")
    } else if x.is_infinite() {
        Value::from(if x > 0.0 { "inf" } else { "-inf" })
    } else {
        Value::from(x)
    }
}

/// `text` with Python's bare `NaN`, `Infinity` and `-Infinity` (outside strings) quoted, and
/// numbers too large for a float (`1e400`) written as `"inf"` or `"-inf"`, so that a JSON
/// parser reads them.
fn python_non_finite(text: &str) -> std::borrow::Cow<'_, str> {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    if !text.contains("NaN")
        && !text.contains("Infinity")
        && !text.contains(['e', 'E'])
        && digits < 300
    {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let token = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t));
        if let Some(t) = token {
            out.push('"');
            out.push_str(t);
            out.push('"');
            rest = &rest[t.len()..];
            continue;
        }
        if c == '-' || c.is_ascii_digit() {
            let len = rest
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')))
                .unwrap_or(rest.len());
            let number = &rest[..len];
            match number.parse::<f64>() {
                Ok(x) if x.is_infinite() => {
                    out.push_str(if x > 0.0 { "\"inf\"" } else { "\"-inf\"" })
                }
                _ => out.push_str(number),
            }
            rest = &rest[len..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_with_non_finite_values() {
        let line = ProgramLine::parse(
            r#"{"step": 10, "val_loss": NaN, "train_loss": 1.5, "acc": -Infinity, "note_x": null}"#,
            3.5,
        )
        .unwrap();
        let ProgramLine::Row(row) = &line else {
            panic!("{line:?}")
        };
        assert_eq!(row.step, 10);
        assert_eq!(row.elapsed_s, 3.5);
        assert!(row.values["val_loss"].is_nan());
        assert_eq!(row.values["acc"], f64::NEG_INFINITY);
        assert!(!row.values.contains_key("note_x"));
        let stored = line.to_json();
        assert_eq!(
            stored,
            r#"{"step":10,"elapsed_s":3.5,"acc":"-inf","train_loss":1.5,"val_loss":"nan"}"#
        );
        let back = ProgramLine::parse(&stored, 0.0).unwrap();
        assert_eq!(back.to_json(), stored);
        assert_eq!(
            ProgramLine::parse(r#"{"checkpoint": 40}"#, 0.0).unwrap(),
            ProgramLine::Checkpoint(40)
        );
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        let err = |t: &str| ProgramLine::parse(t, 0.0).unwrap_err();
        assert!(err("{'step': 3}").contains("not a JSON object"));
        assert!(err(r#"{"val_loss": 2}"#).contains("needs a `step`"));
        assert!(err(r#"{"step": -1}"#).contains("whole number"));
        assert!(err(r#"{"step": 1, "phase": "warmup"}"#).contains("`phase` must be a number"));
        assert!(err(r#"{"checkpoint": 1, "step": 2}"#).contains("checkpoint line"));
        // A string that merely contains NaN stays a string.
        assert!(err(r#"{"step": 1, "x": "NaN here"}"#).contains("`x` must be a number"));
    }

    #[test]
    fn numbers_too_large_for_a_float_are_infinite() {
        let line = ProgramLine::parse(
            r#"{"step": 3, "loss": 1e400, "low": -2E+999, "ok": 1.5e3}"#,
            0.0,
        );
        let Ok(ProgramLine::Row(row)) = line else {
            panic!("{line:?}")
        };
        assert_eq!(row.values["loss"], f64::INFINITY);
        assert_eq!(row.values["low"], f64::NEG_INFINITY);
        assert_eq!(row.values["ok"], 1500.0);
        assert!(
            ProgramLine::parse(r#"{"step": 3, "s_e": "1e400"}"#, 0.0).is_err(),
            "a string stays a string"
        );
    }

    #[test]
    fn a_torn_last_line_is_left_out() {
        let (lines, damage) =
            parse_all(b"{\"step\":1,\"elapsed_s\":0.1,\"v\":2}\n{\"checkpoint\":1}\n{\"step\":2,");
        assert_eq!(lines.len(), 2);
        assert_eq!(
            damage, None,
            "a torn last line is a kill mid-write, not damage"
        );
        assert_eq!(rows(&lines).len(), 1);
    }

    #[test]
    fn a_damaged_line_before_the_last_is_damage() {
        let (lines, damage) = parse_all(
            b"{\"step\":1,\"elapsed_s\":0.1,\"v\":2}\n1,2,3\n{\"step\":2,\"elapsed_s\":0.2}\n",
        );
        assert_eq!(lines.len(), 1);
        assert!(damage.unwrap().starts_with("line 2: "));
    }
}
