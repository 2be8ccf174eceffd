//! Fencing for active/standby daemons on one database (`ha.enabled`). Every
//! write of the PostgreSQL ledger first proves, inside its own transaction,
//! that this daemon still holds its group's lease with the token it was
//! granted. The lease row is read `FOR SHARE`, so a takeover (an `UPDATE` of
//! that row) waits until the write has committed or rolled back: a write
//! either lands before the new leader starts or not at all.
//!
//! The check is also made against this daemon's own clock first: a leader
//! whose last renewal was sent longer ago than most of the lease writes
//! nothing, even before the database says so (the database may be out of
//! reach, or this process may have been paused).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::Transaction;

use super::super::error::LedgerError;

/// The lease group of a deployment whose daemons all carry every voter.
pub const DEFAULT_GROUP: &str = "default";

#[derive(Debug)]
pub struct Fence {
    id: String,
    group: String,
    lease: Duration,
    held: Mutex<Option<Held>>,
}

#[derive(Debug, Clone, Copy)]
struct Held {
    token: i64,
    sent_at: Instant,
}

impl Fence {
    pub fn new(id: impl Into<String>, group: impl Into<String>, lease: Duration) -> Self {
        Fence {
            id: id.into(),
            group: group.into(),
            lease,
            held: Mutex::new(None),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The lease was granted or renewed with `token` by a request sent at
    /// `sent_at` (before it reached the database, so the lease's end in
    /// the database's clock is no earlier than `sent_at + lease`).
    pub fn hold(&self, token: i64, sent_at: Instant) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some(Held { token, sent_at });
    }

    /// Stepped down: no write passes any more.
    pub fn release(&self) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The token held, if any.
    pub fn token(&self) -> Option<i64> {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|h| h.token)
    }

    /// How long after a renewal was sent this daemon still writes: the lease
    /// less a fifth, for clocks that run at different rates and for the
    /// write itself.
    pub fn safe_for(&self) -> Duration {
        self.lease - self.lease / 5
    }

    /// The check against this daemon's own clock: the token, when the lease
    /// is held and was renewed recently enough.
    pub fn check_local(&self) -> Result<i64, LedgerError> {
        let held = *self.held.lock().unwrap_or_else(|p| p.into_inner());
        let Some(held) = held else {
            return Err(self.fenced("another daemon (this one is a standby)".into()));
        };
        let age = held.sent_at.elapsed();
        if age >= self.safe_for() {
            return Err(LedgerError::LeaseUnrenewed {
                id: self.id.clone(),
                group: self.group.clone(),
                age_ms: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
                lease_ms: u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX),
            });
        }
        Ok(held.token)
    }

    fn fenced(&self, leader: String) -> LedgerError {
        LedgerError::Fenced {
            id: self.id.clone(),
            group: self.group.clone(),
            leader,
        }
    }
}

/// The leases a ledger handle's writes need. A round's handle needs every
/// group it votes for (`all`); the daemon's own handle (key acks, marking
/// what a failed leader left) needs at least one lease held, and proves
/// every one it holds (`any`).
#[derive(Debug, Clone)]
pub struct FenceSet {
    fences: Arc<[Arc<Fence>]>,
    all: bool,
}

impl FenceSet {
    /// Writes pass only while every fence holds its lease.
    pub fn all(fences: Vec<Arc<Fence>>) -> Self {
        FenceSet {
            fences: fences.into(),
            all: true,
        }
    }

    /// Writes pass while at least one fence holds its lease.
    pub fn any(fences: Vec<Arc<Fence>>) -> Self {
        FenceSet {
            fences: fences.into(),
            all: false,
        }
    }

    /// One group's lease.
    pub fn one(fence: Arc<Fence>) -> Self {
        FenceSet::all(vec![fence])
    }

    pub fn fences(&self) -> &[Arc<Fence>] {
        &self.fences
    }

    /// The groups, comma-separated, as the rounds table records them.
    pub fn groups(&self) -> String {
        let names: Vec<&str> = self.fences.iter().map(|f| f.group()).collect();
        names.join(",")
    }

    /// The shortest lease of the set (a deployment has one `ha.lease`).
    pub fn lease(&self) -> Duration {
        self.fences
            .iter()
            .map(|f| f.lease())
            .min()
            .unwrap_or(Duration::from_secs(1))
    }

    /// The checks against this daemon's own clock: the fences that must be
    /// proven in the database, with their tokens.
    pub fn check_local(&self) -> Result<Vec<(&Fence, i64)>, LedgerError> {
        let mut held = Vec::with_capacity(self.fences.len());
        let mut first_err = None;
        for fence in self.fences.iter() {
            match fence.check_local() {
                Ok(token) => held.push((fence.as_ref(), token)),
                Err(e) if self.all => return Err(e),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match (held.is_empty(), first_err) {
            (true, Some(e)) => Err(e),
            // A set of no lease proves nothing: nothing passes.
            (true, None) => Err(LedgerError::Fenced {
                id: String::new(),
                group: "(none)".into(),
                leader: "nobody (no lease group to hold)".into(),
            }),
            (false, _) => Ok(held),
        }
    }

    /// The check inside the write's transaction `tx`, after the local one.
    /// The lease rows stay share-locked until `tx` ends.
    pub async fn check(&self, tx: &Transaction<'_>) -> Result<(), LedgerError> {
        let held = self.check_local()?;
        let groups: Vec<&str> = held.iter().map(|(f, _)| f.group()).collect();
        let rows = tx
            .query(
                "SELECT grp, holder, token, expires_at > clock_timestamp() FROM ha_leases
                 WHERE grp = ANY($1) FOR SHARE",
                &[&groups],
            )
            .await?;
        for (fence, token) in held {
            let row = rows
                .iter()
                .find(|r| r.try_get::<_, &str>(0).is_ok_and(|g| g == fence.group()));
            let Some(row) = row else {
                return Err(fence.fenced("nobody (no lease was ever granted)".into()));
            };
            let (holder, held_token, live): (String, i64, bool) =
                (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
            if !(holder == fence.id && held_token == token && live) {
                return Err(fence.fenced(if live {
                    format!("{holder} (token {held_token})")
                } else {
                    "nobody (the lease has expired)".into()
                }));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standby_and_a_leader_past_its_safe_time_are_fenced_locally() {
        let fence = Fence::new("a", DEFAULT_GROUP, Duration::from_secs(5));
        let err = fence.check_local().unwrap_err();
        assert!(err.is_fenced(), "{err}");
        assert!(err.to_string().contains("this daemon (id a)"), "{err}");
        fence.hold(7, Instant::now());
        assert_eq!(fence.check_local().unwrap(), 7);
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(4))
            .expect("an instant 4 s ago");
        fence.hold(7, long_ago);
        let err = fence.check_local().unwrap_err();
        assert!(matches!(err, LedgerError::LeaseUnrenewed { .. }), "{err}");
        fence.release();
        assert_eq!(fence.token(), None);
    }

    #[test]
    fn a_set_needs_every_lease_or_any_lease() {
        let lease = Duration::from_secs(5);
        let a = Arc::new(Fence::new("d", "a", lease));
        let b = Arc::new(Fence::new("d", "b", lease));
        a.hold(3, Instant::now());
        let all = FenceSet::all(vec![a.clone(), b.clone()]);
        let any = FenceSet::any(vec![a.clone(), b.clone()]);
        let err = all.check_local().unwrap_err();
        assert!(err.to_string().contains("group b"), "{err}");
        let held: Vec<_> = any
            .check_local()
            .unwrap()
            .into_iter()
            .map(|(f, t)| (f.group().to_owned(), t))
            .collect();
        assert_eq!(held, vec![("a".to_owned(), 3)]);
        assert_eq!(all.groups(), "a,b");
        a.release();
        assert!(any.check_local().unwrap_err().is_fenced());
        assert!(
            FenceSet::all(Vec::new())
                .check_local()
                .unwrap_err()
                .is_fenced()
        );
    }
}
