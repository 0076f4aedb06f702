//! The versioned schema and its migration runner.
//!
//! The version lives in `servebench_schema` (one row). Opening a database applies every missing
//! migration in order, each in its own write transaction that re-reads the version first, so
//! several processes opening a new database at once apply each migration exactly once. A
//! database whose version is newer than [`LATEST`] is refused before anything is written.
//!
//! Timestamps are `BIGINT` microseconds since the Unix epoch (UTC) on both backends: they sort
//! and compare as numbers, and `jiff` converts them exactly.

use crate::db::Db;
use crate::error::Error;

/// One schema step: the version it produces and its statements.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) statements: &'static [&'static str],
}

/// Version 1: runs, tests, per-test results in a run, measurements.
const V1: &[&str] = &[
    "CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        started_us BIGINT NOT NULL,
        ended_us BIGINT,
        command_line TEXT NOT NULL,
        label TEXT,
        config_commit TEXT,
        cluster TEXT,
        executor TEXT NOT NULL,
        engine TEXT,
        engine_version TEXT,
        gpu_type TEXT,
        image TEXT,
        nodes TEXT,
        sm_clock_mhz BIGINT,
        mem_clock_mhz BIGINT
    )",
    "CREATE TABLE tests (
        test_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        resolved_config TEXT,
        PRIMARY KEY (test_id, fingerprint)
    )",
    "CREATE TABLE test_runs (
        run_id TEXT NOT NULL REFERENCES runs (run_id),
        test_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        started_us BIGINT,
        ended_us BIGINT,
        duration_s DOUBLE PRECISION,
        verdict TEXT,
        reason TEXT,
        model TEXT,
        precision_flag TEXT,
        case_name TEXT,
        PRIMARY KEY (run_id, test_id)
    )",
    "CREATE TABLE measurements (
        run_id TEXT NOT NULL,
        test_id TEXT NOT NULL,
        concurrency BIGINT NOT NULL,
        repeat_index BIGINT NOT NULL,
        metric TEXT NOT NULL,
        value DOUBLE PRECISION NOT NULL,
        measured_us BIGINT NOT NULL,
        ordinal BIGINT NOT NULL,
        valid BOOLEAN NOT NULL,
        source_name TEXT,
        command TEXT,
        PRIMARY KEY (run_id, test_id, concurrency, repeat_index, metric)
    )",
    "CREATE INDEX measurements_history ON measurements (test_id, metric, measured_us)",
];

/// Version 2: accuracy rows and the validity checks behind each verdict.
const V2: &[&str] = &[
    "CREATE TABLE accuracy (
        run_id TEXT NOT NULL,
        test_id TEXT NOT NULL,
        task TEXT NOT NULL,
        filter TEXT NOT NULL,
        value DOUBLE PRECISION NOT NULL,
        expected DOUBLE PRECISION,
        threshold DOUBLE PRECISION,
        passed BOOLEAN,
        PRIMARY KEY (run_id, test_id, task, filter)
    )",
    "CREATE TABLE checks (
        run_id TEXT NOT NULL,
        test_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        name TEXT NOT NULL,
        passed BOOLEAN NOT NULL,
        detail TEXT NOT NULL,
        concurrency BIGINT,
        repeat_index BIGINT,
        PRIMARY KEY (run_id, test_id, seq)
    )",
];

/// Version 3: baseline curation. `accepted_changes`: intended changes (`baseline accept`), a
/// NULL test, metric or concurrency meaning "all"; `pins`: fixed baselines (`baseline pin`),
/// one per test (`*`: every test), the newest replacing the earlier one.
const V3: &[&str] = &[
    "CREATE TABLE accepted_changes (
        seq BIGINT NOT NULL,
        test_id TEXT,
        metric TEXT,
        concurrency BIGINT,
        at_run TEXT NOT NULL,
        reason TEXT NOT NULL,
        accepted_us BIGINT NOT NULL,
        PRIMARY KEY (seq)
    )",
    "CREATE TABLE pins (
        test_id TEXT NOT NULL,
        run_id TEXT,
        tag TEXT,
        pinned_us BIGINT NOT NULL,
        PRIMARY KEY (test_id)
    )",
];

/// Every migration, in order.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        statements: V1,
    },
    Migration {
        version: 2,
        statements: V2,
    },
    Migration {
        version: 3,
        statements: V3,
    },
];

/// The schema version this binary writes.
pub const LATEST: i64 = 3;

/// The version recorded in the database (0: empty).
pub(crate) fn current_version(db: &mut dyn Db) -> Result<i64, Error> {
    db.batch("CREATE TABLE IF NOT EXISTS servebench_schema (version BIGINT NOT NULL)")?;
    let rows = db.query("SELECT MAX(version) FROM servebench_schema", &[])?;
    Ok(rows.first().and_then(|r| r.int(0)).unwrap_or(0))
}

/// Brings the database to the newest of `migrations`; refuses a newer database. Returns the
/// version now in place.
pub(crate) fn migrate(
    db: &mut dyn Db,
    migrations: &[Migration],
    target: &str,
) -> Result<i64, Error> {
    if db.backend() != "postgres" {
        return migrate_locked(db, migrations, target);
    }
    // PostgreSQL's `CREATE TABLE IF NOT EXISTS` is not safe against a concurrent twin (both
    // see no table, one fails on the row type: "type servebench_schema already exists"), so
    // processes opening one fresh database take turns on a session advisory lock.
    db.batch(&format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))?;
    let result = migrate_locked(db, migrations, target);
    let unlocked = db.batch(&format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"));
    let version = result?;
    unlocked?;
    Ok(version)
}

/// The advisory-lock key servebench migrations hold on PostgreSQL ("sbench" in ASCII).
const PG_MIGRATION_LOCK: i64 = 0x7362_656e_6368;

fn migrate_locked(db: &mut dyn Db, migrations: &[Migration], target: &str) -> Result<i64, Error> {
    let latest = migrations.last().map_or(0, |m| m.version);
    let found = current_version(db)?;
    if found > latest {
        return Err(Error::SchemaTooNew {
            target: target.to_string(),
            found,
            supported: latest,
        });
    }
    for m in migrations.iter().filter(|m| m.version > found) {
        db.begin_write()?;
        if let Err(e) = apply(db, m, latest, target).and_then(|()| db.batch("COMMIT")) {
            let _ = db.batch("ROLLBACK");
            return Err(e);
        }
    }
    current_version(db)
}

/// One migration inside the caller's transaction, skipped when another process applied it
/// since we looked (SQLite: the write transaction serializes; PostgreSQL: the advisory lock).
fn apply(db: &mut dyn Db, m: &Migration, latest: i64, target: &str) -> Result<(), Error> {
    let now = current_version(db)?;
    if now > latest {
        return Err(Error::SchemaTooNew {
            target: target.to_string(),
            found: now,
            supported: latest,
        });
    }
    if now >= m.version {
        return Ok(());
    }
    for s in m.statements {
        db.batch(s)?;
    }
    db.execute("DELETE FROM servebench_schema", &[])?;
    db.execute(
        "INSERT INTO servebench_schema (version) VALUES (?)",
        &[m.version.into()],
    )?;
    Ok(())
}
