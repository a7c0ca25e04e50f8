//! A Prometheus text-format file (exposition format 0.0.4) as node_exporter's textfile
//! collector reads it: read back, changed series by series, written whole again.
//!
//! Several ccops projects on one host may share one file, so an update keeps every
//! series it does not own. Families are rendered together, each after its `# HELP` and
//! `# TYPE` lines, sorted, so the file is stable from one write to the next.

use std::collections::BTreeMap;

/// One label set, as (name, value) pairs in their written order.
pub type Labels = Vec<(String, String)>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Family {
    pub help: String,
    /// gauge, counter, untyped...
    pub kind: String,
    /// Rendered label set (`{a="1"}` or empty) -> (labels, value).
    pub samples: BTreeMap<String, (Labels, f64)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Textfile {
    pub families: BTreeMap<String, Family>,
}

impl Textfile {
    /// Read a file this module wrote (or a hand-written one). Lines it cannot read are
    /// dropped: a broken line would make node_exporter reject the whole file.
    pub fn parse(text: &str) -> Textfile {
        let mut t = Textfile::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                t.families.entry(name.to_string()).or_default().help = unescape_help(help);
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
                t.families.entry(name.to_string()).or_default().kind = kind.trim().to_string();
            } else if line.starts_with('#') {
                continue;
            } else if let Some((name, labels, value)) = parse_sample(line) {
                let fam = t.families.entry(name).or_default();
                fam.samples.insert(render_labels(&labels), (labels, value));
            }
        }
        t.families.retain(|_, f| !f.samples.is_empty());
        for f in t.families.values_mut() {
            if f.kind.is_empty() {
                f.kind = "untyped".into();
            }
        }
        t
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, f) in self.families.iter().filter(|(_, f)| !f.samples.is_empty()) {
            out.push_str(&format!("# HELP {name} {}\n# TYPE {name} {}\n", escape_help(&f.help), f.kind));
            for (labels, (_, v)) in &f.samples {
                out.push_str(&format!("{name}{labels} {}\n", number(*v)));
            }
        }
        out
    }

    /// Set one series, declaring its family if new.
    pub fn set(&mut self, name: &str, help: &str, kind: &str, labels: &[(&str, &str)], value: f64) {
        let f = self.family(name, help, kind);
        let labels: Labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        f.samples.insert(render_labels(&labels), (labels, value));
    }

    /// Add `by` to a counter series (created at 0).
    pub fn add(&mut self, name: &str, help: &str, labels: &[(&str, &str)], by: f64) {
        let f = self.family(name, help, "counter");
        let labels: Labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let entry = f.samples.entry(render_labels(&labels)).or_insert((labels, 0.0));
        entry.1 += by;
    }

    /// Remove the series of family `name` whose labels include all of `of`.
    pub fn remove(&mut self, name: &str, of: &[(&str, &str)]) {
        if let Some(f) = self.families.get_mut(name) {
            f.samples
                .retain(|_, (labels, _)| !of.iter().all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v)));
        }
    }

    fn family(&mut self, name: &str, help: &str, kind: &str) -> &mut Family {
        let f = self.families.entry(name.to_string()).or_default();
        // The definitions in the code win over what an older version wrote.
        f.help = help.to_string();
        f.kind = kind.to_string();
        f
    }
}

/// `name{labels} value [timestamp]`.
fn parse_sample(line: &str) -> Option<(String, Labels, f64)> {
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(body)?;
        labels = parsed;
        rest = after;
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().ok()?,
    };
    Some((name.to_string(), labels, value))
}

/// Labels after the `{`, up to and including the `}`; returns them and what follows.
fn parse_labels(mut s: &str) -> Option<(Labels, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Some((labels, after));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        let quoted = s[eq + 1..].trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut end = None;
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            match (escaped, c) {
                (true, 'n') => {
                    value.push('\n');
                    escaped = false;
                }
                (true, c) => {
                    value.push(c);
                    escaped = false;
                }
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                (false, c) => value.push(c),
            }
        }
        labels.push((key.to_string(), value));
        s = &quoted[end? + 1..];
        s = s.trim_start();
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

/// `{a="1",b="x"}`, or nothing for no labels.
pub fn render_labels(labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_value(v))).collect();
    format!("{{{}}}", inner.join(","))
}

fn escape_value(v: &str) -> String {
    v.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', r"\\").replace('\n', r"\n")
}

fn unescape_help(v: &str) -> String {
    v.replace(r"\n", "\n").replace(r"\\", "\\")
}

/// A metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A value as the format writes it: integers without a fraction, never `inf`/`nan` in
/// Rust's spelling.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_foreign_series() {
        let mut t = Textfile::default();
        t.set(
            "ccops_backup_last_status",
            "Last backup: 1 ok, 0 failed.",
            "gauge",
            &[("project", "a"), ("environment", "prod")],
            1.0,
        );
        t.set(
            "ccops_backup_last_status",
            "Last backup: 1 ok, 0 failed.",
            "gauge",
            &[("project", "b"), ("environment", "prod")],
            0.0,
        );
        t.add("ccops_backup_runs_total", "Backups run.", &[("project", "a")], 1.0);
        t.add("ccops_backup_runs_total", "Backups run.", &[("project", "a")], 1.0);
        let text = t.render();
        assert!(
            text.contains("# TYPE ccops_backup_runs_total counter\nccops_backup_runs_total{project=\"a\"} 2\n"),
            "{text}"
        );
        let back = Textfile::parse(&text);
        assert_eq!(back, t);
        let mut back = back;
        back.remove("ccops_backup_last_status", &[("project", "a")]);
        let text = back.render();
        assert!(!text.contains("project=\"a\",environment"), "{text}");
        assert!(text.contains("{project=\"b\",environment=\"prod\"} 0"), "{text}");
    }

    #[test]
    fn label_values_are_escaped_and_read_back() {
        let mut t = Textfile::default();
        t.set("m", "h", "gauge", &[("check", "a \"quoted\" back\\slash\nline")], 1.5);
        let text = t.render();
        assert!(text.contains(r#"m{check="a \"quoted\" back\\slash\nline"} 1.5"#), "{text}");
        assert_eq!(Textfile::parse(&text), t);
    }

    #[test]
    fn unreadable_lines_are_dropped() {
        let t = Textfile::parse(
            "# HELP x a\n# TYPE x gauge\nx 1\n9bad 2\ny{a=\"1\" 3\nz{a=\"1\"} notanumber\nw 4 1700000000000\n",
        );
        assert_eq!(t.families.keys().collect::<Vec<_>>(), ["w", "x"]);
        assert_eq!(t.families["w"].kind, "untyped");
    }
}
