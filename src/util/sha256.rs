//! Manifest and blob digests (`sha256:<hex>`), for when a registry sends no
//! `Docker-Content-Digest`.

use sha2::{Digest as _, Sha256};

/// `sha256:<hex>`: the digest of a manifest or blob, as registries name it.
pub fn digest(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_of_abc() {
        // FIPS 180-2, appendix B.1.
        assert_eq!(
            super::digest(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
