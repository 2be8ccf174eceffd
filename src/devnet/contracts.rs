//! Bindings to the test contracts, generated from the committed artifacts in
//! `contracts/artifacts/`. The ABI and the creation bytecode are compiled into
//! the binary, so `govnode devnet` deploys from any directory, also where the
//! repository is absent (a Nix store, a systemd unit).

use alloy::sol;

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    TestToken,
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contracts/artifacts/TestToken.json"
    )
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    TestAssetDAO,
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contracts/artifacts/TestAssetDAO.json"
    )
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    Multicall3,
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contracts/artifacts/Multicall3.json"
    )
);

/// One day, the AssetDAO's `EXECUTION_DELAY` after `votingEnds`.
pub const EXECUTION_DELAY_SECS: u64 = 24 * 60 * 60;
