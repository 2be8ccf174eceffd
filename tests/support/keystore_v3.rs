//! Writes a Web3 Secret Storage v3 keystore with the pbkdf2 KDF, the other
//! format geth and older wallets produce, so that the daemon's unlocking of
//! it is tested against bytes it did not write itself.

use std::path::Path;

use aes::cipher::{KeyIvInit, StreamCipher};
use alloy::primitives::{B256, keccak256};

pub fn write_pbkdf2(path: &Path, key: B256, password: &str, iterations: u32) {
    let salt: [u8; 32] = rand::random();
    let iv: [u8; 16] = rand::random();
    let mut derived = [0u8; 32];
    pbkdf2::pbkdf2::<hmac::Hmac<sha2::Sha256>>(
        password.as_bytes(),
        &salt,
        iterations,
        &mut derived,
    );
    let mut ciphertext = key.to_vec();
    ctr::Ctr128BE::<aes::Aes128>::new(derived[..16].into(), &iv.into())
        .apply_keystream(&mut ciphertext);
    let mac = keccak256([&derived[16..32], ciphertext.as_slice()].concat());
    let json = serde_json::json!({
        "version": 3,
        "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": {"iv": alloy::hex::encode(iv)},
            "ciphertext": alloy::hex::encode(&ciphertext),
            "kdf": "pbkdf2",
            "kdfparams": {"c": iterations, "dklen": 32, "prf": "hmac-sha256", "salt": alloy::hex::encode(salt)},
            "mac": alloy::hex::encode(mac),
        }
    });
    std::fs::write(path, serde_json::to_vec(&json).expect("json")).expect("write keystore");
}
