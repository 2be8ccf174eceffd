//! Rows between the two ledger backends: every table that holds votes,
//! rounds, decisions and key acknowledgements, with their ids, copied
//! column by column. The SQLite schema of this build is the reference: both
//! backends carry the same tables and column names at the same version, so
//! the copy is by name, and a column one side lacks is an error, never a
//! silent loss.
//!
//! The registered (chain, DAO) pairs (`ledger_daos`) are copied with the
//! rows, so the copy holds every DAO the source did. `meta` is not copied:
//! it describes one file or database (when it was created, restored,
//! moved), not the votes.

use rusqlite::Connection;
use rusqlite::types::Value;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{GenericClient, Row};

use super::error::StateError;
use crate::ledger::LedgerError;

/// In foreign-key order: a row's references are copied before it.
pub const TABLES: [&str; 6] = [
    "ledger_daos",
    "rounds",
    "votes",
    "vote_attempts",
    "decisions",
    "key_acks",
];

/// The tables of [`TABLES`] that hold votes and rounds: a ledger is empty
/// when these are, whatever pairs it has registered.
pub fn holds_rows(counts: &Counts) -> bool {
    counts.iter().any(|(t, n)| *t != "ledger_daos" && *n > 0)
}

/// Tables whose `id` is generated: their sequences continue after the copy.
const IDENTITY_TABLES: [&str; 4] = ["rounds", "votes", "vote_attempts", "key_acks"];

/// How many rows each table holds, in [`TABLES`] order.
pub type Counts = Vec<(&'static str, u64)>;

fn bad(table: &str, detail: impl std::fmt::Display) -> StateError {
    StateError::Ledger(LedgerError::Corrupt {
        what: table.to_owned(),
        detail: detail.to_string(),
    })
}

/// The column names of `table` in the SQLite schema, in its order.
fn columns(conn: &Connection, table: &str) -> Result<Vec<String>, StateError> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
        .map_err(LedgerError::from)?;
    let names = stmt
        .query_map([table], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(LedgerError::from)?;
    if names.is_empty() {
        return Err(bad(table, "the table is missing from the SQLite ledger"));
    }
    Ok(names)
}

fn column_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Row counts of every copied table on PostgreSQL.
pub async fn pg_counts(client: &impl GenericClient) -> Result<Counts, StateError> {
    let mut out = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let row = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .map_err(LedgerError::from)?;
        let n: i64 = row.try_get(0).map_err(LedgerError::from)?;
        out.push((table, n.max(0) as u64));
    }
    Ok(out)
}

/// Row counts of every copied table in a SQLite ledger.
pub fn sqlite_counts(conn: &Connection) -> Result<Counts, StateError> {
    let mut out = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .map_err(LedgerError::from)?;
        out.push((table, n.max(0) as u64));
    }
    Ok(out)
}

/// Copies every row of the PostgreSQL ledger seen by `client` (one
/// transaction, so one moment) into the SQLite ledger `dest`, which holds
/// the schema and no rows yet.
pub async fn pg_to_sqlite(
    client: &impl GenericClient,
    dest: &mut Connection,
) -> Result<Counts, StateError> {
    let tx = dest.transaction().map_err(LedgerError::from)?;
    let mut counts = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let names = columns(&tx, table)?;
        let list = column_list(&names);
        let rows = client
            .query(&format!("SELECT {list} FROM {table} ORDER BY 1"), &[])
            .await
            .map_err(|e| bad(table, format!("cannot read it from PostgreSQL: {e}")))?;
        let marks = (1..=names.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut insert = tx
            .prepare(&format!("INSERT INTO {table} ({list}) VALUES ({marks})"))
            .map_err(LedgerError::from)?;
        for row in &rows {
            let values = (0..names.len())
                .map(|i| sqlite_value(row, i).map_err(|e| bad(table, e)))
                .collect::<Result<Vec<_>, _>>()?;
            insert
                .execute(rusqlite::params_from_iter(values))
                .map_err(LedgerError::from)?;
        }
        counts.push((table, rows.len() as u64));
    }
    tx.commit().map_err(LedgerError::from)?;
    Ok(counts)
}

/// One PostgreSQL cell as the SQLite value of the same column.
fn sqlite_value(row: &Row, i: usize) -> Result<Value, String> {
    let column = &row.columns()[i];
    let ty = column.type_();
    let read = |e: tokio_postgres::Error| format!("column {}: {e}", column.name());
    Ok(if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)
            .map_err(read)?
            .map_or(Value::Null, Value::Integer)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)
            .map_err(read)?
            .map_or(Value::Null, |v| Value::Integer(v.into()))
    } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
        row.try_get::<_, Option<String>>(i)
            .map_err(read)?
            .map_or(Value::Null, Value::Text)
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)
            .map_err(read)?
            .map_or(Value::Null, Value::Blob)
    } else {
        return Err(format!(
            "column {} has type {ty}, not one a ledger uses",
            column.name()
        ));
    })
}

/// Copies every row of the SQLite ledger `source` into the PostgreSQL ledger
/// `client` is in a transaction on, then moves the id sequences past the
/// copied ids. The caller checks the destination is empty and commits.
pub async fn sqlite_to_pg(
    source: &Connection,
    client: &impl GenericClient,
) -> Result<Counts, StateError> {
    let mut counts = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let names = columns(source, table)?;
        let list = column_list(&names);
        let marks = (1..=names.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let insert = client
            .prepare(&format!("INSERT INTO {table} ({list}) VALUES ({marks})"))
            .await
            .map_err(|e| bad(table, format!("PostgreSQL refuses its columns: {e}")))?;
        let types = insert.params().to_vec();
        let rows = read_sqlite_rows(source, table, &list, names.len())?;
        for (n, values) in rows.iter().enumerate() {
            let params = values
                .iter()
                .zip(&types)
                .zip(&names)
                .map(|((v, ty), name)| {
                    pg_param(v, ty).map_err(|e| bad(table, format!("row {}: {name}: {e}", n + 1)))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p as _).collect();
            client
                .execute(&insert, &refs)
                .await
                .map_err(|e| bad(table, format!("row {}: {e}", n + 1)))?;
        }
        counts.push((table, rows.len() as u64));
    }
    for table in IDENTITY_TABLES {
        client
            .execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                   COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
                ),
                &[],
            )
            .await
            .map_err(|e| bad(table, format!("cannot move its id sequence: {e}")))?;
    }
    Ok(counts)
}

fn read_sqlite_rows(
    source: &Connection,
    table: &str,
    list: &str,
    width: usize,
) -> Result<Vec<Vec<Value>>, StateError> {
    let mut stmt = source
        .prepare(&format!("SELECT {list} FROM {table} ORDER BY rowid"))
        .map_err(LedgerError::from)?;
    let rows = stmt
        .query_map([], |r| (0..width).map(|i| r.get::<_, Value>(i)).collect())
        .and_then(|rows| rows.collect::<Result<Vec<Vec<Value>>, _>>())
        .map_err(LedgerError::from)?;
    Ok(rows)
}

type Param = Box<dyn ToSql + Sync + Send>;

/// One SQLite value as the parameter PostgreSQL expects for its column.
fn pg_param(value: &Value, ty: &Type) -> Result<Param, String> {
    let mismatch = || format!("holds {value:?}, PostgreSQL wants {ty}");
    if *ty == Type::INT8 {
        match value {
            Value::Null => Ok(Box::new(None::<i64>)),
            Value::Integer(v) => Ok(Box::new(*v)),
            _ => Err(mismatch()),
        }
    } else if *ty == Type::INT4 {
        match value {
            Value::Null => Ok(Box::new(None::<i32>)),
            Value::Integer(v) => i32::try_from(*v)
                .map(|v| Box::new(v) as Param)
                .map_err(|_| mismatch()),
            _ => Err(mismatch()),
        }
    } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
        match value {
            Value::Null => Ok(Box::new(None::<String>)),
            Value::Text(v) => Ok(Box::new(v.clone())),
            _ => Err(mismatch()),
        }
    } else if *ty == Type::BYTEA {
        match value {
            Value::Null => Ok(Box::new(None::<Vec<u8>>)),
            Value::Blob(v) => Ok(Box::new(v.clone())),
            _ => Err(mismatch()),
        }
    } else {
        Err(format!(
            "PostgreSQL column type {ty} is not one a ledger uses"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_of_the_wrong_kind_is_named() {
        let err = pg_param(&Value::Text("x".into()), &Type::INT8)
            .err()
            .unwrap_or_default();
        assert!(err.contains("Text") && err.contains("int8"), "{err}");
        assert!(pg_param(&Value::Integer(i64::MAX), &Type::INT4).is_err());
        assert!(pg_param(&Value::Null, &Type::BYTEA).is_ok());
    }
}
