//! The two SQL backends behind one small interface, so every query and migration is written
//! once: statements use `?` placeholders (rewritten to `$n` for PostgreSQL) and portable types
//! (`BIGINT`, `DOUBLE PRECISION`, `TEXT`, `BOOLEAN`), and upserts use `ON CONFLICT`, which both
//! SQLite (3.24+) and PostgreSQL accept.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, redact_url};

/// One bound parameter or one column value. Nulls are typed because PostgreSQL checks the
/// parameter type of a prepared statement even for a null.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Bool(Option<bool>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(Some(v))
    }
}
impl From<Option<f64>> for Value {
    fn from(v: Option<f64>) -> Self {
        Value::Real(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_string))
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(Some(v))
    }
}
impl From<Option<bool>> for Value {
    fn from(v: Option<bool>) -> Self {
        Value::Bool(v)
    }
}

/// One result row, read by column index with lenient conversions (SQLite returns booleans as
/// integers).
#[derive(Debug, Clone)]
pub(crate) struct Row(pub(crate) Vec<Value>);

impl Row {
    fn get(&self, i: usize) -> Option<&Value> {
        self.0.get(i)
    }
    pub(crate) fn int(&self, i: usize) -> Option<i64> {
        match self.get(i)? {
            Value::Int(v) => *v,
            Value::Real(v) => v.map(|f| f as i64),
            Value::Bool(v) => v.map(i64::from),
            Value::Text(v) => v.as_deref().and_then(|s| s.parse().ok()),
        }
    }
    pub(crate) fn real(&self, i: usize) -> Option<f64> {
        match self.get(i)? {
            Value::Real(v) => *v,
            Value::Int(v) => v.map(|n| n as f64),
            _ => None,
        }
    }
    /// Takes a text column out of the row (each column is read once; no copy).
    pub(crate) fn text(&mut self, i: usize) -> Option<String> {
        match self.0.get_mut(i)? {
            Value::Text(v) => v.take(),
            _ => None,
        }
    }
    pub(crate) fn boolean(&self, i: usize) -> Option<bool> {
        match self.get(i)? {
            Value::Bool(v) => *v,
            Value::Int(v) => v.map(|n| n != 0),
            _ => None,
        }
    }
}

/// What [`crate::sql::SqlStore`] needs from a connection.
pub(crate) trait Db: Send {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Runs statements without parameters (DDL, transaction control).
    fn batch(&mut self, sql: &str) -> Result<(), Error>;
    /// Runs one statement; returns the number of rows changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error>;
    /// Runs one query.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error>;
    /// Starts a write transaction that takes the write lock at once (SQLite `BEGIN IMMEDIATE`,
    /// so two writers never deadlock upgrading a read lock).
    fn begin_write(&mut self) -> Result<(), Error>;
}

/// SQLite through rusqlite (bundled SQLite, WAL, busy timeout).
pub(crate) struct SqliteDb {
    conn: rusqlite::Connection,
}

/// How long a writer waits for another process's write lock before failing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

impl SqliteDb {
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        let ctx = |e: rusqlite::Error| Error::Open {
            target: path.display().to_string(),
            detail: e.to_string(),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::Open {
                target: path.display().to_string(),
                detail: format!("cannot create {}: {e}", parent.display()),
            })?;
        }
        let conn = rusqlite::Connection::open(path).map_err(ctx)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(ctx)?;
        // WAL: readers never block the writer; NORMAL sync is durable across process crashes.
        // Switching a new file to WAL takes a lock SQLite does not wait for through the busy
        // handler: several processes opening one new history at once retry here instead.
        busy_retry(|| conn.pragma_update(None, "journal_mode", "WAL")).map_err(ctx)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(ctx)?;
        // As on PostgreSQL: a test result must belong to a recorded run.
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(ctx)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(SqliteDb { conn })
    }
}

/// Runs `f` again while SQLite answers busy or locked, with a growing pause, for up to
/// [`BUSY_TIMEOUT`].
fn busy_retry<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

fn sqlite_err(sql: &str, e: rusqlite::Error) -> Error {
    Error::Query {
        backend: "sqlite",
        statement: first_words(sql),
        detail: e.to_string(),
    }
}

/// The first words of a statement, to name it in an error without dumping it.
fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as V};
        Ok(ToSqlOutput::Owned(match self {
            Value::Int(Some(v)) => V::Integer(*v),
            Value::Real(Some(v)) => V::Real(*v),
            Value::Text(Some(v)) => V::Text(v.clone()),
            Value::Bool(Some(v)) => V::Integer(i64::from(*v)),
            Value::Int(None) | Value::Real(None) | Value::Text(None) | Value::Bool(None) => V::Null,
        }))
    }
}

impl Db for SqliteDb {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
    fn batch(&mut self, sql: &str) -> Result<(), Error> {
        self.conn.execute_batch(sql).map_err(|e| sqlite_err(sql, e))
    }
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| sqlite_err(sql, e))?;
        let n = stmt
            .execute(rusqlite::params_from_iter(params))
            .map_err(|e| sqlite_err(sql, e))?;
        Ok(n as u64)
    }
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        use rusqlite::types::ValueRef;
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| sqlite_err(sql, e))?;
        let width = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params))
            .map_err(|e| sqlite_err(sql, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| sqlite_err(sql, e))? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                let v = row.get_ref(i).map_err(|e| sqlite_err(sql, e))?;
                values.push(match v {
                    ValueRef::Null => Value::Text(None),
                    ValueRef::Integer(n) => Value::Int(Some(n)),
                    ValueRef::Real(f) => Value::Real(Some(f)),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Value::Text(Some(String::from_utf8_lossy(t).into_owned()))
                    }
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }
    fn begin_write(&mut self) -> Result<(), Error> {
        self.batch("BEGIN IMMEDIATE")
    }
}

/// PostgreSQL through the synchronous `postgres` client (no TLS: use a local socket, a private
/// network or an SSH tunnel). Prepared statements are cached per connection.
pub(crate) struct PgDb {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

impl PgDb {
    pub(crate) fn connect(url: &str) -> Result<Self, Error> {
        let client = postgres::Client::connect(url, postgres::NoTls).map_err(|e| Error::Open {
            target: redact_url(url),
            detail: e.to_string(),
        })?;
        Ok(PgDb {
            client,
            statements: HashMap::new(),
        })
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self
            .client
            .prepare(&dollar_placeholders(sql))
            .map_err(|e| pg_err(sql, e))?;
        self.statements.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }
}

fn pg_err(sql: &str, e: postgres::Error) -> Error {
    // The driver's Display is terse ("db error"); the server's message is in the source.
    let detail = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    Error::Query {
        backend: "postgres",
        statement: first_words(sql),
        detail,
    }
}

/// `?` placeholders (outside quotes) to PostgreSQL's `$1, $2, ...`.
pub(crate) fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

fn pg_params(params: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| -> &(dyn postgres::types::ToSql + Sync) {
            match p {
                Value::Int(v) => v,
                Value::Real(v) => v,
                Value::Text(v) => v,
                Value::Bool(v) => v,
            }
        })
        .collect()
}

impl Db for PgDb {
    fn backend(&self) -> &'static str {
        "postgres"
    }
    fn batch(&mut self, sql: &str) -> Result<(), Error> {
        self.client.batch_execute(sql).map_err(|e| pg_err(sql, e))
    }
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        let stmt = self.statement(sql)?;
        self.client
            .execute(&stmt, &pg_params(params))
            .map_err(|e| pg_err(sql, e))
    }
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        use postgres::types::Type;
        let stmt = self.statement(sql)?;
        let rows = self
            .client
            .query(&stmt, &pg_params(params))
            .map_err(|e| pg_err(sql, e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(row.len());
            for (i, col) in row.columns().iter().enumerate() {
                let t = col.type_();
                let v = if *t == Type::INT8 {
                    row.try_get::<_, Option<i64>>(i).map(Value::Int)
                } else if *t == Type::INT4 {
                    row.try_get::<_, Option<i32>>(i)
                        .map(|v| Value::Int(v.map(i64::from)))
                } else if *t == Type::FLOAT8 {
                    row.try_get::<_, Option<f64>>(i).map(Value::Real)
                } else if *t == Type::BOOL {
                    row.try_get::<_, Option<bool>>(i).map(Value::Bool)
                } else {
                    row.try_get::<_, Option<String>>(i).map(Value::Text)
                };
                values.push(v.map_err(|e| pg_err("reading a row", e))?);
            }
            out.push(Row(values));
        }
        Ok(out)
    }
    fn begin_write(&mut self) -> Result<(), Error> {
        self.batch("BEGIN")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            dollar_placeholders("SELECT '?' FROM t WHERE a = ? AND b = ?"),
            "SELECT '?' FROM t WHERE a = $1 AND b = $2"
        );
    }
}
