//! What the store knows of a checkpoint file without decoding its tensors (so without candle):
//! its format, its step, and whether its tensor data still matches the SHA-256 written with it.
//! `train::checkpoint` writes the files and decodes them for training, verifying them here.

use anyhow::{bail, Context};
use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

/// Format tag stored in every checkpoint.
pub const FORMAT: &str = "sweep-checkpoint-1";

/// Checks a checkpoint's format and checksum; returns its step and metadata.
pub fn verify(bytes: &[u8]) -> anyhow::Result<(usize, std::collections::HashMap<String, String>)> {
    let (_, header) = SafeTensors::read_metadata(bytes).context("not a safetensors file")?;
    let meta = header.metadata().clone().unwrap_or_default();
    let get = |key: &str| {
        meta.get(key)
            .map(String::as_str)
            .with_context(|| format!("metadata `{key}` is missing"))
    };
    if get("format")? != FORMAT {
        bail!("unknown checkpoint format {:?}", get("format")?);
    }
    let step: usize = get("step")?.parse().context("metadata `step`")?;
    let tensors = SafeTensors::deserialize(bytes).context("not a safetensors file")?;
    if checksum(&tensors)? != get("sha256")? {
        bail!("checksum mismatch: the tensor data is damaged");
    }
    Ok((step, meta))
}

/// SHA-256 over the names, types, shapes and little-endian bytes of the tensors, in name
/// order: the checksum `train::checkpoint::encode` writes.
fn checksum(tensors: &SafeTensors) -> anyhow::Result<String> {
    let mut views = tensors.tensors();
    views.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hasher = Sha256::new();
    for (name, view) in views {
        let dtype = match view.dtype() {
            Dtype::F32 => "F32",
            Dtype::F64 => "F64",
            other => bail!("unsupported checkpoint dtype {other:?}"),
        };
        hasher.update(name.as_bytes());
        hasher.update(format!("{dtype}{:?}", view.shape()).as_bytes());
        hasher.update(view.data());
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
