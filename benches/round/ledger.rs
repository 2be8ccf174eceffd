//! The ledger backends side by side: the same round (every node votes `for`)
//! on a fresh chain with the SQLite file and with a PostgreSQL database (a
//! real cluster started for the bench, on loopback, with the server's default
//! durability: fsync on). The SQLite round is the reference of each pair; the
//! 49 × 5 pair also has the floor, measured on the SQLite run's chain (the
//! floor replays the votes the ledger confirmed, read from the SQLite file;
//! both runs vote every pair, so it is the same set of votes).

use std::os::unix::fs::PermissionsExt;

use crate::Options;
use crate::net::{Mining, Strategies};
use crate::postgres::Postgres;
use crate::scenario::{Case, Measured, calls, measure, votes_cell};
use crate::table::{Table, mb, ratio, secs};

/// The `GOVNODE__…` overrides that put the daemon's ledger into a new
/// database of `pg`. The bench keeps the names for its whole run, so they
/// are leaked on purpose: [`Case::env`] holds `'static` strings.
fn postgres_env(pg: &Postgres, name: &str) -> Vec<(&'static str, &'static str)> {
    let conninfo = pg.database(name);
    let dir = std::env::temp_dir().join(format!("govnode-bench-ledger-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench ledger dir");
    let file = dir.join(name);
    std::fs::write(&file, conninfo).expect("write the conninfo file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
        .expect("conninfo file mode");
    let path: &'static str = Box::leak(file.display().to_string().into_boxed_str());
    vec![
        ("GOVNODE__LEDGER__KIND", "postgres"),
        ("GOVNODE__LEDGER__PATH", "null"),
        ("GOVNODE__LEDGER__URL_FILE", path),
    ]
}

pub async fn ledgers(options: &Options) {
    let pg = tokio::task::block_in_place(Postgres::start);
    let points: &[(u32, u32, Mining, bool)] = if options.quick {
        &[(49, 5, Mining::Auto, true)]
    } else {
        &[
            (49, 5, Mining::Auto, true),
            (200, 20, Mining::Interval(1), false),
        ]
    };
    let mut t = Table::new(
        "ledger backends, every node votes for (SQLite file against PostgreSQL on loopback)",
        &[
            "proposals × nodes",
            "mining",
            "ledger",
            "votes",
            "round",
            "ms per vote",
            "round / SQLite round",
            "round / floor",
            "JSON-RPC calls",
            "quiet round",
            "peak RSS",
        ],
    );
    for (i, &(p, n, mining, floor)) in points.iter().enumerate() {
        let case = |env, floor| Case {
            proposals: p,
            nodes: n,
            mining,
            strategies: Strategies::AllFor,
            env,
            floor,
            websocket: false,
        };
        let sqlite = measure(&case(Vec::new(), floor)).await;
        let env = tokio::task::block_in_place(|| postgres_env(&pg, &format!("bench{i}")));
        let postgres = measure(&case(env, false)).await;
        for (label, m) in [("SQLite", &sqlite), ("PostgreSQL", &postgres)] {
            t.row(row(p, n, mining, label, m, &sqlite));
        }
        println!(
            "  measured {p} × {n}: SQLite {}, PostgreSQL {}",
            secs(sqlite.round.wall),
            secs(postgres.round.wall)
        );
    }
    t.print();
}

fn row(
    p: u32,
    n: u32,
    mining: Mining,
    label: &str,
    m: &Measured,
    sqlite: &Measured,
) -> Vec<String> {
    let votes = m.round.report.votes.confirmed;
    vec![
        format!("{p} × {n}"),
        mining.label(),
        label.to_owned(),
        votes_cell(&m.round.report.votes),
        secs(m.round.wall),
        format!(
            "{:.2}",
            m.round.wall.as_secs_f64() * 1000.0 / votes.max(1) as f64
        ),
        ratio(m.round.wall, sqlite.round.wall),
        sqlite
            .floor
            .as_ref()
            .map(|f| ratio(m.round.wall, f.total))
            .unwrap_or_else(|| "–".into()),
        calls(&m.round_calls).to_string(),
        secs(m.quiet.wall),
        mb(m.peak_rss_kb),
    ]
}
