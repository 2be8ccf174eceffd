//! A SoftHSM2 token in a temporary directory (its own `SOFTHSM2_CONF`), with
//! a secp256k1 key pair imported under a label, for the PKCS#11 signer tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const TOKEN: &str = "govnode-test";
pub const PIN: &str = "5678-pin-not-logged";
/// DER of the secp256k1 curve's OID (1.3.132.0.10).
const SECP256K1_PARAMS: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];

pub struct SoftHsm {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
}

impl SoftHsm {
    /// A fresh token labelled [`TOKEN`] with user PIN [`PIN`].
    pub fn new() -> SoftHsm {
        assert!(
            Path::new(MODULE).exists(),
            "{MODULE} missing: apt-get install softhsm2 (scripts/test.sh's setup does)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).expect("tokens dir");
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .expect("softhsm2.conf");
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", TOKEN])
            .args(["--so-pin", "1234", "--pin", PIN])
            .output()
            .expect("run softhsm2-util");
        assert!(
            out.status.success(),
            "softhsm2-util --init-token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SoftHsm { dir, conf }
    }

    /// Imports `key` as a private/public key pair labelled `label`. Runs in a
    /// child process's environment only through `SOFTHSM2_CONF`, which this
    /// process sets for itself once.
    pub fn import(&self, label: &str, key: B256) {
        // SAFETY: set before any PKCS#11 call in this test process; tests
        // using SoftHSM run one token per process (one test per file).
        unsafe { std::env::set_var("SOFTHSM2_CONF", &self.conf) };
        let signer = PrivateKeySigner::from_bytes(&key).expect("key");
        let public = signer.public_key();
        let mut point = vec![0x04, 0x41, 0x04];
        point.extend_from_slice(public.as_slice());
        let ctx = Pkcs11::new(MODULE).expect("load softhsm");
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .expect("C_Initialize");
        let slot = ctx
            .get_slots_with_token()
            .expect("slots")
            .into_iter()
            .find(|s| ctx.get_token_info(*s).expect("token").label().trim() == TOKEN)
            .expect("the test token");
        let session = ctx.open_rw_session(slot).expect("session");
        session
            .login(UserType::User, Some(&AuthPin::new(PIN.into())))
            .expect("login");
        let label = label.as_bytes().to_vec();
        session
            .create_object(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::EC),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Sign(true),
                Attribute::Label(label.clone()),
                Attribute::EcParams(SECP256K1_PARAMS.to_vec()),
                Attribute::Value(key.to_vec()),
            ])
            .expect("import private key");
        session
            .create_object(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::KeyType(KeyType::EC),
                Attribute::Token(true),
                Attribute::Verify(true),
                Attribute::Label(label),
                Attribute::EcParams(SECP256K1_PARAMS.to_vec()),
                Attribute::EcPoint(point),
            ])
            .expect("import public key");
    }
}
