//! SHA-256 digests as lower-case hex: how scenario files, tables and logs are identified
//! in manifests.

use sha2::{Digest, Sha256};

/// Lower-case hex of a digest's bytes.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `bytes`, as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}
