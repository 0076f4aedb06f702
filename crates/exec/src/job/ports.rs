//! Node placeholders and local port remapping.
//!
//! Locally every node placeholder becomes `127.0.0.1`, so two servers planned on different nodes
//! with the same port would collide, and two jobs on one machine would too. Every planned
//! `(host placeholder, port)` pair therefore gets a free port, and every string of the spec is
//! rewritten consistently: `host:port` substrings (URLs, router config), `--port P` next to the
//! matching `--host`, and the router config's `port:` line.

use std::collections::BTreeMap;
use std::net::TcpListener;

/// `(host placeholder, planned port)` -> port used.
#[derive(Debug, Default, Clone)]
pub(crate) struct PortMap {
    map: BTreeMap<(String, u16), u16>,
}

impl PortMap {
    /// Allocates a free 127.0.0.1 port for each pair. The listeners are held until every port is
    /// chosen, so the pairs never share one.
    pub(crate) fn allocate(pairs: &[(String, u16)]) -> std::io::Result<Self> {
        let mut listeners = Vec::new();
        let mut map = BTreeMap::new();
        for pair in pairs {
            if map.contains_key(pair) {
                continue;
            }
            let l = TcpListener::bind("127.0.0.1:0")?;
            map.insert(pair.clone(), l.local_addr()?.port());
            listeners.push(l);
        }
        Ok(PortMap { map })
    }

    /// A fixed map (tests).
    #[cfg(test)]
    pub(crate) fn fixed(entries: &[(&str, u16, u16)]) -> Self {
        PortMap {
            map: entries
                .iter()
                .map(|(h, p, n)| ((h.to_string(), *p), *n))
                .collect(),
        }
    }

    /// The port used for a planned pair.
    pub(crate) fn get(&self, host: &str, port: u16) -> Option<u16> {
        self.map.get(&(host.to_string(), port)).copied()
    }

    /// Replaces every `host:port` of the map in `text` (the port must not continue with a digit).
    pub(crate) fn rewrite_text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for ((host, port), new) in &self.map {
            let needle = format!("{host}:{port}");
            let mut result = String::with_capacity(out.len());
            let mut rest = out.as_str();
            while let Some(at) = rest.find(&needle) {
                let end = at + needle.len();
                let next_is_digit = rest
                    .get(end..)
                    .and_then(|s| s.chars().next())
                    .is_some_and(|c| c.is_ascii_digit());
                result.push_str(rest.get(..at).unwrap_or_default());
                if next_is_digit {
                    result.push_str(&needle);
                } else {
                    result.push_str(&format!("{host}:{new}"));
                }
                rest = rest.get(end..).unwrap_or_default();
            }
            result.push_str(rest);
            out = result;
        }
        out
    }

    /// Rewrites an argument vector: `host:port` substrings, then `--port P` (or `--port=P`) for
    /// the host named by `--host`/`--hostname` in the same argv, else `own_host`.
    pub(crate) fn rewrite_argv(&self, argv: &[String], own_host: Option<&str>) -> Vec<String> {
        let mut out: Vec<String> = argv.iter().map(|a| self.rewrite_text(a)).collect();
        let host = flag_value(&out, &["--host", "--hostname"])
            .map(|(_, v)| v)
            .or_else(|| own_host.map(str::to_string));
        let Some(host) = host else {
            return out;
        };
        if let Some((at, value)) = flag_value(&out, &["--port"])
            && let Ok(port) = value.parse::<u16>()
            && let Some(new) = self.get(&host, port)
            && let Some(slot) = out.get_mut(at)
        {
            if slot.starts_with("--port=") {
                *slot = format!("--port={new}");
            } else {
                *slot = new.to_string();
            }
        }
        out
    }

    /// Rewrites a template: `host:port` substrings, and a YAML `port: P` line for the router's
    /// planned port.
    pub(crate) fn rewrite_template(&self, text: &str, router: Option<(&str, u16)>) -> String {
        let text = self.rewrite_text(text);
        let Some((host, port)) = router else {
            return text;
        };
        let Some(new) = self.get(host, port) else {
            return text;
        };
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            let body = line.trim_end_matches(['\n', '\r']);
            let indent = body
                .get(..body.len() - body.trim_start().len())
                .unwrap_or_default();
            if body.trim() == format!("port: {port}") {
                out.push_str(&format!("{indent}port: {new}"));
                out.push_str(line.get(body.len()..).unwrap_or_default());
            } else {
                out.push_str(line);
            }
        }
        out
    }
}

/// Position of the value of the first of `flags` in `argv` and the value.
fn flag_value(argv: &[String], flags: &[&str]) -> Option<(usize, String)> {
    for (i, a) in argv.iter().enumerate() {
        for f in flags {
            if a == f {
                return argv.get(i + 1).map(|v| (i + 1, v.clone()));
            }
            if let Some(v) = a.strip_prefix(&format!("{f}=")) {
                return Some((i, v.to_string()));
            }
        }
    }
    None
}

/// Replaces `<node{i}_placeholder>` with `hosts[i]`. An index past the list is left as is (the
/// caller checks the node count first).
pub(crate) fn substitute_nodes(text: &str, hosts: &[String]) -> String {
    const OPEN: &str = "<node";
    const CLOSE: &str = "_placeholder>";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + OPEN.len()..).unwrap_or_default();
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        let tail = after.get(digits.len()..).unwrap_or_default();
        let host = digits
            .parse::<usize>()
            .ok()
            .filter(|_| tail.starts_with(CLOSE))
            .and_then(|i| hosts.get(i));
        match host {
            Some(h) => {
                out.push_str(h);
                rest = tail.get(CLOSE.len()..).unwrap_or_default();
            }
            None => {
                out.push_str(OPEN);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The highest node index any placeholder in `text` refers to.
pub(crate) fn max_node_index(text: &str) -> Option<usize> {
    let mut best = None;
    for part in text.split("<node").skip(1) {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        if part
            .get(digits.len()..)
            .is_some_and(|t| t.starts_with("_placeholder>"))
            && let Ok(i) = digits.parse::<usize>()
        {
            best = Some(best.map_or(i, |b: usize| b.max(i)));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn rewrites_urls_without_touching_longer_ports() {
        let m = PortMap::fixed(&[
            ("<node0_placeholder>", 800, 1),
            ("<node1_placeholder>", 8000, 2),
        ]);
        assert_eq!(
            m.rewrite_text(
                "http://<node0_placeholder>:8000/x <node0_placeholder>:800 <node1_placeholder>:8000"
            ),
            "http://<node0_placeholder>:8000/x <node0_placeholder>:1 <node1_placeholder>:2"
        );
    }

    #[test]
    fn rewrites_port_flag_of_the_named_host() {
        let m = PortMap::fixed(&[
            ("<node0_placeholder>", 8000, 41000),
            ("<node1_placeholder>", 8000, 42000),
        ]);
        let argv = s(&["sim", "--host", "<node1_placeholder>", "--port", "8000"]);
        assert_eq!(
            m.rewrite_argv(&argv, None),
            s(&["sim", "--host", "<node1_placeholder>", "--port", "42000"])
        );
        let argv = s(&["x", "--port=8000"]);
        assert_eq!(
            m.rewrite_argv(&argv, Some("<node0_placeholder>")),
            s(&["x", "--port=41000"])
        );
        // unknown pairs stay
        let argv = s(&["x", "--port", "9"]);
        assert_eq!(m.rewrite_argv(&argv, Some("<node0_placeholder>")), argv);
    }

    #[test]
    fn rewrites_router_config() {
        let m = PortMap::fixed(&[
            ("<node0_placeholder>", 8333, 5),
            ("<node1_placeholder>", 8000, 6),
        ]);
        let t = "urls:\n  - <node1_placeholder>:8000\nhostname: <node0_placeholder>\nport: 8333\n";
        assert_eq!(
            m.rewrite_template(t, Some(("<node0_placeholder>", 8333))),
            "urls:\n  - <node1_placeholder>:6\nhostname: <node0_placeholder>\nport: 5\n"
        );
    }

    #[test]
    fn substitutes_placeholders() {
        let hosts = s(&["a", "b"]);
        assert_eq!(
            substitute_nodes("<node1_placeholder>:1 <node0_placeholder>", &hosts),
            "b:1 a"
        );
        assert_eq!(
            substitute_nodes("<node7_placeholder> <node>", &hosts),
            "<node7_placeholder> <node>"
        );
        assert_eq!(
            max_node_index("x <node3_placeholder> <node12_placeholder>"),
            Some(12)
        );
        assert_eq!(max_node_index("none"), None);
    }

    #[test]
    fn allocates_distinct_ports() {
        let m = PortMap::allocate(&[("a".into(), 1), ("b".into(), 1), ("a".into(), 1)]).unwrap();
        assert_ne!(m.get("a", 1), m.get("b", 1));
    }
}
