//! The store's error type and the credential redaction every message goes through.

use std::path::PathBuf;

/// Everything that can go wrong opening, migrating, writing or reading the history, and
/// importing or exporting it. Messages never contain a password or token: URLs pass through
/// [`redact_url`] first.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened or reached.
    #[error("cannot open the history database {target}: {detail}")]
    Open {
        /// The path or the redacted URL.
        target: String,
        /// What the driver said.
        detail: String,
    },
    /// `--db` is neither a path, a `sqlite:` URL nor a `postgres://` URL.
    #[error(
        "unsupported database URL scheme `{scheme}`: use a file path, `sqlite:PATH` or `postgres://user@host/db`"
    )]
    Scheme {
        /// The scheme given.
        scheme: String,
    },
    /// The database was written by a newer servebench.
    #[error(
        "the history database {target} has schema version {found}, but this servebench only knows versions up to {supported}: upgrade servebench (nothing was changed)"
    )]
    SchemaTooNew {
        /// The path or the redacted URL.
        target: String,
        /// The version found.
        found: i64,
        /// The newest version this binary migrates to.
        supported: i64,
    },
    /// A statement failed.
    #[error("{backend} statement `{statement} ...` failed: {detail}")]
    Query {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The first words of the statement.
        statement: String,
        /// What the database said.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file's content is not what its format requires.
    #[error("{}:{line}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line (0: the whole file).
        line: u64,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A value given by the caller is out of range (a date, a run id).
    #[error("{0}")]
    Invalid(String),
    /// Posting to OpenSearch failed for good (after the retries) or some documents were
    /// rejected.
    #[error("OpenSearch bulk upload to {target}: {detail}")]
    Upload {
        /// The redacted endpoint.
        target: String,
        /// What failed.
        detail: String,
    },
}

/// `scheme://user:password@host/...` with the userinfo replaced by `***`, and the values of
/// query parameters that look like credentials (`password`, `token`, ...) likewise.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let (authority_end, _) = rest
        .char_indices()
        .find(|(_, c)| matches!(c, '/' | '?' | '#'))
        .unwrap_or((rest.len(), ' '));
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("***@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if is_secret_key(k) => format!("{k}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
        None => tail.to_string(),
    };
    match scheme {
        Some(s) => format!("{s}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["pass", "secret", "token", "key", "auth"]
        .iter()
        .any(|s| k.contains(s))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn userinfo_and_secret_parameters_are_hidden() {
        assert_eq!(
            redact_url("postgres://bob:hunter2@db.example:5432/hist?sslmode=disable&password=x"),
            "postgres://***@db.example:5432/hist?sslmode=disable&password=***"
        );
        assert_eq!(
            redact_url("https://u:p@os.example/_bulk"),
            "https://***@os.example/_bulk"
        );
        assert_eq!(redact_url("http://localhost:9200"), "http://localhost:9200");
        assert_eq!(redact_url("host=/tmp user=x"), "host=/tmp user=x");
    }
}
