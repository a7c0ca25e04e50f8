//! Published ports: a database or cache port on every interface (CMP008), any other port
//! on every interface (CMP009). Short (`"127.0.0.1:8080:80/tcp"`, `"[::1]:80:80"`,
//! ranges) and long (`target`/`published`/`host_ip`) syntax; `expose:` publishes nothing.

use super::Cx;
use crate::scan::compose::Service;
use crate::scan::finding::Finding;
use crate::scan::yaml::Node;
use crate::syntax::interp;

/// Ports of databases, caches and brokers that must never face the network.
const DATA_PORTS: &[(u32, &str)] = &[
    (5432, "PostgreSQL"),
    (3306, "MySQL/MariaDB"),
    (6379, "Redis"),
    (27017, "MongoDB"),
    (9200, "Elasticsearch"),
    (5672, "RabbitMQ"),
    (15672, "RabbitMQ management"),
    (11211, "Memcached"),
    (1433, "SQL Server"),
];

/// Stands for a variable with no default: it can be anything, so nothing is concluded.
const UNKNOWN: &str = "\u{1}";

/// One published port mapping.
#[derive(Debug, PartialEq, Eq)]
pub struct Published {
    /// None when no host IP is given.
    pub host_ip: Option<String>,
    /// Container ports (a range expands to its bounds).
    pub container: (u32, u32),
    pub spec: String,
}

fn port_range(s: &str) -> Option<(u32, u32)> {
    let s = s.trim();
    match s.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => s.parse().ok().map(|p| (p, p)),
    }
}

/// Parse one `ports:` entry; None for what cannot be read (unknown variables).
pub fn parse(item: &Node) -> Option<Published> {
    if let Some(text) = item.as_str() {
        let resolved = resolve_unknown(text);
        let spec = resolved.split('/').next().unwrap_or(&resolved).trim().to_string();
        let (ip, rest) = if let Some(r) = spec.strip_prefix('[') {
            let (ip, rest) = r.split_once(']')?;
            (Some(ip.to_string()), rest.trim_start_matches(':').to_string())
        } else {
            let parts: Vec<&str> = spec.split(':').collect();
            match parts.len() {
                0..=2 => (None, spec.clone()),
                3 => (Some(parts[0].to_string()), parts[1..].join(":")),
                // An IPv6 address written without brackets.
                n => (Some(parts[..n - 2].join(":")), parts[n - 2..].join(":")),
            }
        };
        let container = port_range(rest.rsplit(':').next()?)?;
        return Some(Published { host_ip: ip.filter(|i| !i.is_empty()), container, spec: text.to_string() });
    }
    let target = item.get("target")?;
    let container = port_range(&resolve_unknown(target.as_str()?))?;
    let host_ip = item.get("host_ip").and_then(Node::as_str).map(resolve_unknown).filter(|i| !i.is_empty());
    let published = item.get("published").and_then(Node::as_str).unwrap_or("");
    let spec = format!("{}:{published}:{}", host_ip.as_deref().unwrap_or(""), target.as_str().unwrap_or(""));
    Some(Published { host_ip, container, spec })
}

fn resolve_unknown(text: &str) -> String {
    interp::resolve_with(text, UNKNOWN).text
}

fn is_wildcard(ip: Option<&str>) -> bool {
    match ip {
        None => true,
        Some(ip) => matches!(ip.trim_matches(|c| c == '[' || c == ']'), "0.0.0.0" | "::" | "*"),
    }
}

pub fn check(cx: &Cx<'_>, svc: &Service<'_>, out: &mut Vec<Finding>) {
    for item in svc.node.get("ports").map(Node::as_seq).unwrap_or_default() {
        let Some(p) = parse(item) else { continue };
        if p.host_ip.as_deref().is_some_and(|ip| ip.contains(UNKNOWN)) || !is_wildcard(p.host_ip.as_deref()) {
            continue;
        }
        let (lo, hi) = p.container;
        let data = DATA_PORTS.iter().find(|(port, _)| (lo..=hi).contains(port));
        let key = format!("port:{lo}-{hi}");
        let f = match data {
            Some((port, what)) => {
                cx.at("CMP008", item, svc, format!("{what} port {port} is published on all interfaces (`{}`)", p.spec))
            }
            None => cx.at("CMP009", item, svc, format!("port `{}` is published on all interfaces", p.spec)),
        };
        out.push(f.key(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::rules::testing::scan;
    use crate::scan::yaml;

    fn p(s: &str) -> Option<Published> {
        let n = yaml::parse(&format!("x: {s}\n"), 0).unwrap();
        parse(n.get("x").unwrap())
    }

    #[test]
    fn short_syntax_forms() {
        assert_eq!(p("\"5432\"").unwrap().container, (5432, 5432));
        assert_eq!(p("8080").unwrap().host_ip, None);
        assert_eq!(p("\"127.0.0.1:6379:6379/tcp\"").unwrap().host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(p("\"[::1]:80:80\"").unwrap().host_ip.as_deref(), Some("::1"));
        assert_eq!(p("\"::1:80:80\"").unwrap().host_ip.as_deref(), Some("::1"));
        assert_eq!(p("\"8000-8010:8000-8010\"").unwrap().container, (8000, 8010));
        assert_eq!(p("\"${BIND:-127.0.0.1}:${PORT:-5432}:5432\"").unwrap().host_ip.as_deref(), Some("127.0.0.1"));
        assert!(p("\"${BIND}:5432:5432\"").unwrap().host_ip.unwrap().contains(UNKNOWN));
        assert_eq!(
            p("{target: 80, published: \"8080\", host_ip: 127.0.0.1}").unwrap().host_ip.as_deref(),
            Some("127.0.0.1")
        );
    }

    #[test]
    fn cmp008_database_ports_on_all_interfaces() {
        let yaml = "services:\n  db:\n    ports:\n      - \"5432:5432\"\n      - \"127.0.0.1:6379:6379\"\n      - target: 27017\n        published: 27017\n      - \"0.0.0.0:3306:3306\"\n      - \"[::1]:9200:9200\"\n      - \"${DB_BIND}:5672:5672\"\n";
        let s = scan(yaml, &[]);
        assert_eq!(s.lines("CMP008"), [4, 6, 8]);
        assert!(s.messages("CMP008")[0].contains("PostgreSQL port 5432"));
        assert!(s.lines("CMP009").is_empty());
    }

    #[test]
    fn cmp009_other_ports_on_all_interfaces() {
        let yaml = "services:\n  web:\n    ports:\n      - \"80:80\"\n      - \"127.0.0.1:8080:8080\"\n      - target: 443\n        host_ip: 10.0.0.5\n    expose: [\"9000\"]\n";
        assert_eq!(scan(yaml, &[]).lines("CMP009"), [4]);
    }
}
