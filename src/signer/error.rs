/// Why a signer did not sign. Messages name the backend and what to check,
/// never a key, a password or a keystore's contents.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// The request lacks what a signature needs (a bug in the round, not the signer).
    #[error("{kind} signer: the transaction cannot be signed: {reason}")]
    Request { kind: &'static str, reason: String },
    /// The backend answered with a refusal.
    #[error("{kind} signer refused to sign: {reason}")]
    Refused { kind: &'static str, reason: String },
    /// The backend could not be reached or did not answer in time.
    #[error("{kind} signer unreachable: {reason}")]
    Unreachable { kind: &'static str, reason: String },
}
