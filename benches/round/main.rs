//! govnode's benchmarks: a voting round on a real anvil against the floor
//! (the same votes pre-signed and sent straight to the chain), JSON-RPC
//! requests per round, memory, start-up time, scaling and a soak of many
//! rounds. Run by `scripts/bench.sh [--quick]` (which builds in release and
//! calls `cargo bench --bench round`); the figures are printed as tables and
//! written up in docs/benchmarks.md. Nothing here asserts a speed: a
//! benchmark reports, a test judges behaviour.
//!
//! Everything is real: anvil from `scripts/setup-tools.sh`, the AssetDAO and
//! proposals of `govnode devnet --setup-only`, the release `govnode` binary
//! as a daemon, triggered over its control socket, with the pass-through
//! proxy of the chain tests between daemon and anvil to count requests.
//!
//! Options (after `--`): `--quick` (a subset in under two minutes),
//! `--only NAME[,NAME]` (headline, blocktime, targets, ready, scaling, ledger,
//! faults, many, soak),
//! `--soak-rounds N`, `--grid PxN[,PxN]` (scaling points).

#[allow(dead_code)]
#[path = "../../tests/support/anvil.rs"]
mod anvil;
#[allow(dead_code)]
#[path = "../../tests/support/fault_proxy.rs"]
mod fault_proxy;
#[path = "../../tests/support/notify.rs"]
mod notify;
#[allow(dead_code)]
#[path = "../../tests/support/postgres.rs"]
mod postgres;

mod daemon;
mod faults;
mod floor;
mod ledger;
mod many;
mod net;
mod scenario;
mod soak;
mod table;
mod targets;

use std::time::Instant;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    pub only: Option<Vec<String>>,
    pub soak_rounds: usize,
    /// Scaling points (`--grid 10x1,200x20`) instead of the built-in grid.
    pub grid: Option<Vec<(u32, u32)>>,
}

impl Options {
    fn parse() -> Options {
        let mut o = Options {
            quick: false,
            only: None,
            soak_rounds: 0,
            grid: None,
        };
        let mut soak_rounds = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => o.quick = true,
                "--only" => {
                    let list = args.next().expect("--only needs a list of sections");
                    o.only = Some(list.split(',').map(str::to_owned).collect());
                }
                "--soak-rounds" => {
                    let n = args.next().expect("--soak-rounds needs a number");
                    soak_rounds = Some(n.parse().expect("--soak-rounds needs a number"));
                }
                "--grid" => {
                    let list = args.next().expect("--grid needs PxN,PxN");
                    o.grid = Some(
                        list.split(',')
                            .map(|pn| {
                                let (p, n) = pn.split_once('x').expect("--grid entries are PxN");
                                (p.parse().expect("proposals"), n.parse().expect("nodes"))
                            })
                            .collect(),
                    );
                }
                // cargo bench passes --bench to every bench binary.
                "--bench" => {}
                other => panic!("unknown option {other:?} (see benches/round/main.rs)"),
            }
        }
        o.soak_rounds = soak_rounds.unwrap_or(if o.quick { 200 } else { 1000 });
        o
    }

    pub fn wants(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == section))
    }
}

fn main() {
    let options = Options::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    println!(
        "govnode benchmarks{}",
        if options.quick { " (quick)" } else { "" }
    );
    println!("{}", table::machine());
    runtime.block_on(async {
        if options.wants("headline") {
            scenario::headline(&options, net::Mining::Auto).await;
        }
        if options.wants("blocktime") {
            scenario::headline(&options, net::Mining::Interval(1)).await;
        }
        if options.wants("targets") {
            targets::targets(&options).await;
        }
        if options.wants("ready") {
            scenario::ready(&options).await;
        }
        if options.wants("scaling") {
            scenario::scaling(&options).await;
        }
        if options.wants("ledger") {
            ledger::ledgers(&options).await;
        }
        if options.wants("faults") {
            faults::faults(&options).await;
        }
        if options.wants("many") {
            many::many(&options).await;
        }
        if options.wants("soak") {
            soak::soak(&options).await;
        }
    });
    println!(
        "\nbenchmarks finished in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}
