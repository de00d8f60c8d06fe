//! Checkpoint encoding: everything needed to continue a training run exactly — model weights,
//! Adam moments and step count, the random generator, the step and the training clock — in one
//! safetensors file, with a checksum over the tensor data so that damage is detected.
//!
//! Where and when checkpoints are written is the caller's business (see the worker).

use std::collections::HashMap;

use anyhow::{bail, Context};
use candle_core::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::data::batch::StreamCursor;
use crate::store::checkpoint_file::{self, FORMAT};

/// The state of a training run at the end of a step.
#[derive(Debug, Clone)]
pub struct TrainingState {
    /// Steps completed.
    pub step: usize,
    /// Seconds of training so far (continues the metrics' clock after a resume).
    pub elapsed_s: f64,
    /// The batch sampler's generator, positioned after the last batch.
    pub rng: ChaCha8Rng,
    /// The optimizer's update count (the key keeps its first name).
    pub adam_steps: u64,
    /// Where a sequential stream stands (`sampling: "sequential"`; its carried state is the
    /// tensor `carry.state`).
    pub stream: Option<StreamCursor>,
    /// Named tensors: `param.<name>`, for Adam `adam.m.<name>` and `adam.v.<name>`, and the
    /// carried state `carry.state` of sequential sampling.
    pub tensors: Vec<(String, Tensor)>,
}

/// Serializes `state` into safetensors bytes.
pub fn encode(state: &TrainingState) -> anyhow::Result<Vec<u8>> {
    let mut metadata = HashMap::new();
    metadata.insert("format".to_string(), FORMAT.to_string());
    metadata.insert("step".to_string(), state.step.to_string());
    metadata.insert("elapsed_s".to_string(), state.elapsed_s.to_string());
    metadata.insert("adam_steps".to_string(), state.adam_steps.to_string());
    metadata.insert("rng".to_string(), serde_json::to_string(&state.rng)?);
    if let Some(c) = state.stream {
        metadata.insert("stream".to_string(), format!("{},{}", c.offset, c.next));
    }
    metadata.insert("sha256".to_string(), checksum(&state.tensors)?);
    let tensors: Vec<(&str, &Tensor)> =
        state.tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    Ok(safetensors::serialize(tensors, Some(metadata))?)
}

/// Parses and verifies checkpoint bytes (format and checksum: [`checkpoint_file::verify`]).
pub fn decode(bytes: &[u8]) -> anyhow::Result<TrainingState> {
    let (step, meta) = checkpoint_file::verify(bytes)?;
    let get = |key: &str| {
        meta.get(key)
            .map(String::as_str)
            .with_context(|| format!("metadata `{key}` is missing"))
    };
    let loaded = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
    let mut tensors: Vec<(String, Tensor)> = loaded.into_iter().collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(TrainingState {
        step,
        elapsed_s: get("elapsed_s")?.parse()?,
        rng: serde_json::from_str(get("rng")?)?,
        adam_steps: get("adam_steps")?.parse()?,
        stream: meta.get("stream").map(|s| parse_stream(s)).transpose()?,
        tensors,
    })
}

/// A stream cursor from its metadata form `offset,next`.
fn parse_stream(text: &str) -> anyhow::Result<StreamCursor> {
    let parsed = text
        .split_once(',')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    let Some((offset, next)) = parsed else {
        bail!("metadata `stream` is {text:?}, expected `offset,next`");
    };
    Ok(StreamCursor { offset, next })
}

/// SHA-256 over the names, shapes and bytes of `tensors`, in name order.
fn checksum(tensors: &[(String, Tensor)]) -> anyhow::Result<String> {
    let mut sorted: Vec<&(String, Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hasher = Sha256::new();
    for (name, t) in sorted {
        hasher.update(name.as_bytes());
        hasher.update(format!("{:?}{:?}", t.dtype(), t.dims()).as_bytes());
        let bytes: Vec<u8> = match t.dtype() {
            candle_core::DType::F32 => t
                .flatten_all()?
                .to_vec1::<f32>()?
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
            candle_core::DType::F64 => t
                .flatten_all()?
                .to_vec1::<f64>()?
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
            other => bail!("unsupported checkpoint dtype {other:?}"),
        };
        hasher.update(&bytes);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngCore, SeedableRng};

    fn state() -> TrainingState {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        rng.next_u64();
        TrainingState {
            step: 17,
            elapsed_s: 1.0 / 3.0,
            rng,
            adam_steps: 17,
            stream: Some(StreamCursor {
                offset: 3,
                next: 40,
            }),
            tensors: vec![
                (
                    "param.w".into(),
                    Tensor::new(&[[1.5f32, -2.0], [0.1, 1e-30]], &Device::Cpu).unwrap(),
                ),
                (
                    "adam.m.w".into(),
                    Tensor::new(&[0.25f32, 7.0], &Device::Cpu).unwrap(),
                ),
            ],
        }
    }

    #[test]
    fn round_trips_exactly() {
        let s = state();
        let back = decode(&encode(&s).unwrap()).unwrap();
        assert_eq!(back.step, 17);
        assert_eq!(back.elapsed_s, 1.0 / 3.0);
        assert_eq!(back.adam_steps, 17);
        assert_eq!(
            back.stream,
            Some(StreamCursor {
                offset: 3,
                next: 40
            })
        );
        let plain = TrainingState {
            stream: None,
            ..s.clone()
        };
        assert_eq!(decode(&encode(&plain).unwrap()).unwrap().stream, None);
        let (mut a, mut b) = (s.rng.clone(), back.rng.clone());
        assert_eq!(
            a.next_u64(),
            b.next_u64(),
            "generator continues where it was"
        );
        let w = back.tensors.iter().find(|(n, _)| n == "param.w").unwrap();
        assert_eq!(
            w.1.to_vec2::<f32>().unwrap(),
            [[1.5f32, -2.0], [0.1, 1e-30]]
        );
    }

    #[test]
    fn truncation_and_bit_flips_are_detected() {
        let bytes = encode(&state()).unwrap();
        for cut in [0, 7, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "truncated at {cut}");
        }
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        let err = decode(&flipped).unwrap_err().to_string();
        assert!(err.contains("checksum mismatch"), "{err}");
    }
}
