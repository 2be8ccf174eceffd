//! `kind: pkcs11`: a secp256k1 key that never leaves an HSM. The token is
//! found by label, the user logs in with a PIN from a file or credential,
//! and the key pair is found by its `CKA_LABEL`. The HSM returns a plain
//! ECDSA (r, s) over the transaction's signing hash; Ethereum wants low s
//! and a recovery id, so s is normalised and the id is the one whose
//! recovered address is the key's own.

use std::path::PathBuf;
use std::sync::Mutex;

use alloy::consensus::{SignableTransaction, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{Address, B256, Bytes, Signature, keccak256};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::k256::ecdsa::Signature as EcdsaSignature;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

use super::{SignedTx, Signer, SignerError};

const KIND: &str = "pkcs11";

/// Why an HSM key could not be opened at start.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    #[error("PKCS#11 module {module}: cannot load: {reason}")]
    Module { module: PathBuf, reason: String },
    #[error("PKCS#11 module {module}: no token labelled {token:?} (tokens: {found})")]
    NoToken {
        module: PathBuf,
        token: String,
        found: String,
    },
    #[error("token {token:?}: login refused: {reason}")]
    Login { token: String, reason: String },
    #[error("token {token:?}: no {what} key labelled {label:?}")]
    NoKey {
        token: String,
        label: String,
        what: &'static str,
    },
    #[error("token {token:?}, key {label:?}: {reason}")]
    Key {
        token: String,
        label: String,
        reason: String,
    },
}

/// An open session on the token, logged in, with the key's handle.
pub struct Pkcs11Signer {
    address: Address,
    key: ObjectHandle,
    // A session serves one call at a time.
    session: Mutex<Session>,
    // Kept so the library stays loaded for the session's lifetime.
    _context: Pkcs11,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("address", &self.address)
            .finish()
    }
}

impl Pkcs11Signer {
    /// Opens the token labelled `token`, logs in with `pin` and finds the
    /// key pair labelled `label`.
    pub fn open(
        module: &std::path::Path,
        token: &str,
        label: &str,
        pin: &str,
    ) -> Result<Self, Pkcs11Error> {
        let module_err = |e: cryptoki::error::Error| Pkcs11Error::Module {
            module: module.to_owned(),
            reason: e.to_string(),
        };
        let context = Pkcs11::new(module).map_err(module_err)?;
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            // Another node (or the settings before a reload) uses the same module.
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(module_err(e)),
        }
        let mut found = Vec::new();
        let mut slot = None;
        for s in context.get_slots_with_token().map_err(module_err)? {
            let info = context.get_token_info(s).map_err(module_err)?;
            let name = info.label().trim().to_owned();
            if name == token {
                slot = Some(s);
                break;
            }
            found.push(name);
        }
        let Some(slot) = slot else {
            return Err(Pkcs11Error::NoToken {
                module: module.to_owned(),
                token: token.to_owned(),
                found: if found.is_empty() {
                    "none".into()
                } else {
                    found.join(", ")
                },
            });
        };
        let session = context.open_ro_session(slot).map_err(module_err)?;
        match session.login(UserType::User, Some(&AuthPin::new(pin.into()))) {
            // Login state is per token and application: another node on the
            // same token (or the settings before a reload) logged in already.
            Ok(()) | Err(cryptoki::error::Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => {
                return Err(Pkcs11Error::Login {
                    token: token.to_owned(),
                    reason: e.to_string(),
                });
            }
        }
        let key_err = |reason: String| Pkcs11Error::Key {
            token: token.to_owned(),
            label: label.to_owned(),
            reason,
        };
        let find = |class: ObjectClass, what: &'static str| {
            let objects = session
                .find_objects(&[
                    Attribute::Class(class),
                    Attribute::KeyType(KeyType::EC),
                    Attribute::Label(label.as_bytes().to_vec()),
                ])
                .map_err(|e| key_err(e.to_string()))?;
            objects.first().copied().ok_or(Pkcs11Error::NoKey {
                token: token.to_owned(),
                label: label.to_owned(),
                what,
            })
        };
        let key = find(ObjectClass::PRIVATE_KEY, "private")?;
        let public = find(ObjectClass::PUBLIC_KEY, "public")?;
        let point = session
            .get_attributes(public, &[AttributeType::EcPoint])
            .map_err(|e| key_err(e.to_string()))?;
        let Some(Attribute::EcPoint(point)) = point.into_iter().next() else {
            return Err(key_err("the public key has no EC point".into()));
        };
        let address = address_of_point(&point).ok_or_else(|| {
            key_err("the public key is not an uncompressed secp256k1 point".into())
        })?;
        Ok(Pkcs11Signer {
            address,
            key,
            session: Mutex::new(session),
            _context: context,
        })
    }

    fn sign_hash(&self, hash: &B256) -> Result<Signature, SignerError> {
        let refused = |reason: String| SignerError::Refused { kind: KIND, reason };
        let raw = {
            let session = self
                .session
                .lock()
                .map_err(|_| refused("the HSM session is unusable after a crash".into()))?;
            session
                .sign(&Mechanism::Ecdsa, self.key, hash.as_slice())
                .map_err(|e| refused(e.to_string()))?
        };
        let sig = EcdsaSignature::from_slice(&raw).map_err(|_| {
            refused(format!(
                "not a 64-byte ECDSA signature ({} bytes)",
                raw.len()
            ))
        })?;
        let sig = sig.normalize_s().unwrap_or(sig);
        let (r, s) = sig.split_bytes();
        for parity in [false, true] {
            let candidate = Signature::from_scalars_and_parity(
                B256::from_slice(&r),
                B256::from_slice(&s),
                parity,
            );
            if candidate.recover_address_from_prehash(hash).ok() == Some(self.address) {
                return Ok(candidate);
            }
        }
        Err(refused(
            "the signature does not recover to the key's address (wrong key or curve)".into(),
        ))
    }
}

/// The address of an `CKA_EC_POINT`: DER OCTET STRING around `04 || x || y`
/// (some tokens return the bare point).
fn address_of_point(point: &[u8]) -> Option<Address> {
    let bare = match point {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 => rest,
        p if p.len() == 65 => p,
        _ => return None,
    };
    if bare[0] != 0x04 {
        return None;
    }
    Some(Address::from_slice(&keccak256(&bare[1..])[12..]))
}

#[async_trait::async_trait]
impl Signer for Pkcs11Signer {
    fn address(&self) -> Address {
        self.address
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    async fn sign_transaction(&self, request: TransactionRequest) -> Result<SignedTx, SignerError> {
        let tx = request.build_typed_tx().map_err(|_| SignerError::Request {
            kind: KIND,
            reason: "the request is incomplete (nonce, gas, fees or chain id missing)".into(),
        })?;
        let hash = tx.signature_hash();
        let signature = self.sign_hash(&hash)?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        Ok(SignedTx {
            hash: *envelope.tx_hash(),
            raw: Bytes::from(envelope.encoded_2718()),
        })
    }
}
