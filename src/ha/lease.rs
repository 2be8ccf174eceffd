//! The lease statements, on a connection of the elector's own (so a busy
//! or stuck ledger connection never delays a renewal). Expiry is always
//! judged by the database's clock, never by two machines' clocks.

use std::time::Duration;

use tokio_postgres::Client;

use crate::ledger::LedgerError;
use crate::ledger::pg::PgTarget;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This daemon holds the lease with `token`. `previous` is the holder
    /// and token before this claim when it came from another lease (another
    /// daemon's, a lapsed one, or this daemon's before a restart).
    Held {
        token: i64,
        previous: Option<(String, i64)>,
        /// Another daemon that prefers this group asked for it within the
        /// last lease (`ha.preferred_groups`).
        wanted_by: Option<String>,
    },
    /// Another daemon holds it.
    Taken { holder: String, token: i64 },
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    #[error("the lease database did not answer within {} ms", .0.as_millis())]
    Timeout(Duration),
}

/// Acquires or renews in one statement. `held` is the token this daemon
/// holds: a renewal must name it, so a second process with the same id
/// (or this one restarted) never inherits a live lease. The token is raised
/// whenever the lease changes hands or had lapsed. Another daemon's lease
/// is taken only once it has been out for `$5` seconds (`grace`), which
/// gives a group's preferred daemons the first go at it.
const CLAIM: &str = "
WITH prev AS (SELECT holder, token FROM ha_leases WHERE grp = $1)
INSERT INTO ha_leases AS l (grp, holder, token, expires_at)
VALUES ($1, $2, 1, now() + make_interval(secs => $3))
ON CONFLICT (grp) DO UPDATE SET
    holder = excluded.holder,
    token = CASE WHEN l.expires_at > now() AND l.holder = excluded.holder AND l.token = $4
                 THEN l.token ELSE l.token + 1 END,
    expires_at = excluded.expires_at,
    wanted_by = CASE WHEN l.wanted_by = excluded.holder THEN NULL ELSE l.wanted_by END
WHERE l.expires_at <= now() - make_interval(secs => $5)
   OR (l.holder = excluded.holder AND l.token = $4)
RETURNING l.token, (SELECT holder FROM prev), (SELECT token FROM prev),
    CASE WHEN l.wanted_at > now() - make_interval(secs => $3) THEN l.wanted_by END";

/// How a daemon claims one group.
#[derive(Debug, Clone, Copy)]
pub struct ClaimTerms<'a> {
    pub group: &'a str,
    pub me: &'a str,
    pub lease: Duration,
    /// The token this daemon holds, if any.
    pub held: Option<i64>,
    /// How long another daemon's lease must have been out before it is
    /// taken (zero for a preferred group).
    pub grace: Duration,
}

pub async fn claim(client: &Client, terms: ClaimTerms<'_>) -> Result<Claim, LedgerError> {
    let ClaimTerms {
        group,
        me,
        lease,
        held,
        grace,
    } = terms;
    let (secs, grace_secs) = (lease.as_secs_f64(), grace.as_secs_f64());
    let row = client
        .query_opt(CLAIM, &[&group, &me, &secs, &held, &grace_secs])
        .await?;
    if let Some(row) = row {
        let token: i64 = row.try_get(0)?;
        let prev: (Option<String>, Option<i64>) = (row.try_get(1)?, row.try_get(2)?);
        let previous = match prev {
            (Some(holder), Some(t)) if !(holder == me && Some(t) == held) => Some((holder, t)),
            _ => None,
        };
        return Ok(Claim::Held {
            token,
            previous,
            wanted_by: row.try_get(3)?,
        });
    }
    let row = client
        .query_one(
            "SELECT holder, token FROM ha_leases WHERE grp = $1",
            &[&group],
        )
        .await?;
    Ok(Claim::Taken {
        holder: row.try_get(0)?,
        token: row.try_get(1)?,
    })
}

/// Asks the holder of `group` to hand it back (this daemon prefers it).
/// The request lasts one lease; it is repeated while the group is held by
/// another daemon.
pub async fn want(client: &Client, group: &str, me: &str) -> Result<(), LedgerError> {
    client
        .execute(
            "UPDATE ha_leases SET wanted_by = $2, wanted_at = now()
             WHERE grp = $1 AND holder <> $2",
            &[&group, &me],
        )
        .await?;
    Ok(())
}

/// Ends this daemon's lease at once (a clean stop), so a standby takes
/// over at its next try instead of waiting for the lease to run out.
pub async fn release(
    client: &Client,
    group: &str,
    me: &str,
    token: i64,
) -> Result<bool, LedgerError> {
    let n = client
        .execute(
            "UPDATE ha_leases SET expires_at = now()
             WHERE grp = $1 AND holder = $2 AND token = $3 AND expires_at > now()",
            &[&group, &me, &token],
        )
        .await?;
    Ok(n > 0)
}

/// A connection for the lease: a statement that waits on a lock (a write
/// of a paused leader holding the lease row) gives up after `wait`, and
/// the elector tries again at its next tick.
pub async fn connect(target: &PgTarget, wait: Duration) -> Result<Client, LedgerError> {
    let client = target.connect().await?;
    let ms = wait.as_millis().max(1);
    client
        .batch_execute(&format!(
            "SET lock_timeout = {ms}; SET statement_timeout = {ms}"
        ))
        .await?;
    Ok(client)
}
