//! Just enough of a Dockerfile parser for the rules: instructions with their line,
//! continuation lines, comments, the `escape` directive, heredocs, and build stages with
//! their base image, USER and HEALTHCHECK (inherited from a parent stage). The text is
//! untrusted: nothing here slices a string at a byte index that could split a character,
//! and lookups by stage or instruction are indexed, so a 2 MiB file of 100 000 stages is
//! read in linear time (and asked about once per service that builds it).
//! Past 400 lines for its tests (about 325 lines of code).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// One instruction, continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub line: usize,
    /// Upper case: `FROM`, `USER`, ...
    pub cmd: String,
    pub args: String,
}

#[derive(Debug, Clone)]
pub struct Stage {
    /// The FROM argument as written (ARGs not substituted).
    pub from: String,
    pub from_line: usize,
    pub instructions: Vec<Instruction>,
    /// The earlier stage `from` names, if any.
    parent: Option<usize>,
    /// Each command's last instruction in this stage.
    last_of: HashMap<String, usize>,
}

/// An instruction's place: (stage, index in the stage).
type At = (usize, usize);

#[derive(Debug, Clone, Default)]
pub struct Dockerfile {
    /// ARGs declared before the first FROM: they may be used in FROM lines.
    pub global_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
    /// Stage names (lower case) to the first stage of that name.
    names: HashMap<String, usize>,
    /// `last` answers along parent chains: (stage, command) to (stage, instruction).
    inherited: RefCell<HashMap<(usize, String), Option<At>>>,
}

impl Dockerfile {
    pub fn parse(text: &str) -> Dockerfile {
        let mut df = Dockerfile::default();
        for ins in instructions(text) {
            if ins.cmd == "FROM" {
                let words = split_words(&ins.args);
                let words: Vec<&String> = words.iter().filter(|w| !w.starts_with("--")).collect();
                let from = words.first().map(|s| (*s).clone()).unwrap_or_default();
                let name = match words.as_slice() {
                    [_, kw, name, ..] if kw.eq_ignore_ascii_case("as") => Some(name.to_ascii_lowercase()),
                    _ => None,
                };
                let parent = df.names.get(&from.to_ascii_lowercase()).copied();
                if let Some(n) = name {
                    df.names.entry(n).or_insert(df.stages.len());
                }
                df.stages.push(Stage {
                    from,
                    from_line: ins.line,
                    instructions: Vec::new(),
                    parent,
                    last_of: HashMap::new(),
                });
            } else if let Some(stage) = df.stages.last_mut() {
                stage.last_of.insert(ins.cmd.clone(), stage.instructions.len());
                stage.instructions.push(ins);
            } else if ins.cmd == "ARG" {
                df.global_args.push(ins);
            }
        }
        df
    }

    /// The stage a build of `target` produces: that stage, else the last one.
    pub fn target(&self, target: Option<&str>) -> Option<usize> {
        target
            .and_then(|t| self.names.get(&t.to_ascii_lowercase()).copied())
            .or_else(|| self.stages.len().checked_sub(1))
    }

    /// The stage `from` refers to when it names an earlier stage.
    fn parent(&self, i: usize) -> Option<usize> {
        self.stages[i].parent
    }

    /// The last instruction `cmd` in stage `i` or the stages it is built from. Walked
    /// without recursion (a chain of 100 000 stages must not overflow the stack) and
    /// remembered, so each service that asks again costs one lookup.
    pub fn last(&self, i: usize, cmd: &str) -> Option<&Instruction> {
        let mut memo = self.inherited.borrow_mut();
        let mut walked = Vec::new();
        let mut at = Some(i);
        let found = loop {
            let Some(s) = at else { break None };
            if let Some(&hit) = memo.get(&(s, cmd.to_string())) {
                break hit;
            }
            if let Some(&j) = self.stages[s].last_of.get(cmd) {
                break Some((s, j));
            }
            walked.push(s);
            at = self.parent(s);
        };
        for s in walked {
            memo.insert((s, cmd.to_string()), found);
        }
        found.map(|(s, j)| &self.stages[s].instructions[j])
    }

    /// Whether FROM of stage `i` is `scratch` or an earlier stage (no image to pin).
    pub fn base_is_internal(&self, i: usize) -> bool {
        self.stages[i].from.eq_ignore_ascii_case("scratch") || self.parent(i).is_some()
    }

    /// Default values of the global ARGs, overridden by the build's `args`.
    pub fn arg_values(&self, build_args: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for a in &self.global_args {
            for w in split_words(&a.args) {
                if let Some((k, v)) = w.split_once('=') {
                    out.insert(k.to_string(), v.to_string());
                }
            }
        }
        out.extend(build_args.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }
}

/// Substitute `$X`, `${X}` and `${X:-d}` from `vars`; None when one is unknown.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, default, len) = if let Some(inner) = after.strip_prefix('{') {
            let close = inner.find('}')?;
            let body = &inner[..close];
            let (n, d) = match body.split_once(":-").or_else(|| body.split_once('-')) {
                Some((n, d)) => (n, Some(d)),
                None => (body, None),
            };
            (n, d, close + 2)
        } else {
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..end], None, end)
        };
        match vars.get(name).filter(|v| !v.is_empty()).map(String::as_str).or(default) {
            Some(v) => out.push_str(v),
            None => return None,
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    Some(out)
}

/// Words of an instruction's arguments: a JSON array (`["a", "b"]`) or shell-like words
/// (quotes grouped, not interpreted further).
pub fn split_words(args: &str) -> Vec<String> {
    let t = args.trim();
    if t.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(t) {
            return v;
        }
    }
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    // A quoted empty word (`''`) is a word, as in a shell and as `first_word_end` counts it.
    let mut quoted = false;
    for c in t.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                quoted = true;
            }
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() || quoted {
                    words.push(std::mem::take(&mut cur));
                }
                quoted = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if !cur.is_empty() || quoted {
        words.push(cur);
    }
    words
}

/// `KEY=VALUE` pairs of ENV/LABEL/ARG, and the legacy `ENV KEY value` form.
pub fn pairs(cmd: &str, args: &str) -> Vec<(String, Option<String>)> {
    let words = split_words(args);
    if cmd == "ENV" && words.first().is_some_and(|w| !w.contains('=')) {
        // The value is the text after the first word as written: quotes make the word's
        // length differ from the name's, so the name's length is no index into `args`.
        let t = args.trim();
        let value = t[first_word_end(t)..].trim().to_string();
        return vec![(words[0].clone(), Some(value))];
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w, None),
        })
        .collect()
}

/// The byte index at which the first word of `t` (no leading blank) ends, as
/// `split_words` groups quotes: always a character boundary.
fn first_word_end(t: &str) -> usize {
    let mut quote: Option<char> = None;
    for (i, c) in t.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, c) if c.is_whitespace() => return i,
            (None, _) => {}
        }
    }
    t.len()
}

/// Every instruction of `text`, with the line it starts on.
fn instructions(text: &str) -> Vec<Instruction> {
    let escape = escape_char(text);
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).peekable();
    while let Some((no, line)) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut full = String::new();
        let mut cur = line.trim_end();
        loop {
            match cur.strip_suffix(escape) {
                Some(body) => {
                    full.push_str(body);
                    full.push(' ');
                    // Comment and empty lines inside a continuation are skipped, as BuildKit does.
                    let next = loop {
                        match lines.next() {
                            Some((_, l)) if l.trim().is_empty() || l.trim_start().starts_with('#') => continue,
                            other => break other,
                        }
                    };
                    match next {
                        Some((_, l)) => cur = l.trim_end(),
                        None => break,
                    }
                }
                None => {
                    full.push_str(cur);
                    break;
                }
            }
        }
        let full = full.trim();
        let (cmd, args) = full.split_once(char::is_whitespace).unwrap_or((full, ""));
        let ins = Instruction { line: no, cmd: cmd.to_ascii_uppercase(), args: args.trim().to_string() };
        for delim in heredocs(&ins.args) {
            for (_, l) in lines.by_ref() {
                if l.trim() == delim {
                    break;
                }
            }
        }
        out.push(ins);
    }
    out
}

/// The `# escape=` parser directive, `\` by default.
fn escape_char(text: &str) -> char {
    for line in text.lines() {
        let t = line.trim();
        let Some(d) = t.strip_prefix('#') else { break };
        if let Some((k, v)) = d.split_once('=') {
            if k.trim().eq_ignore_ascii_case("escape") && v.trim() == "`" {
                return '`';
            }
        }
    }
    '\\'
}

/// The delimiters of heredocs opened by an instruction (`<<EOF`, `<<-"EOT"`).
fn heredocs(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = args;
    while let Some(i) = rest.find("<<") {
        let after = rest[i + 2..].trim_start_matches('-');
        // Only letters, digits, `_` and quotes can make a delimiter: stopping at any other
        // character keeps `<<<<<<...` linear (each `<<` would otherwise read to the end).
        let word: String = after
            .chars()
            .take_while(|c| !c.is_whitespace())
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '"' | '\''))
            .collect();
        if after[word.len()..].chars().next().is_some_and(|c| !c.is_whitespace()) {
            rest = &rest[i + 2..];
            continue;
        }
        let word = word.trim_matches(|c| c == '"' || c == '\'').to_string();
        if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.push(word);
        }
        rest = &rest[i + 2..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DF: &str = "# escape=\\\nARG BASE=python:3.12\nFROM ${BASE} AS build\nUSER app\nRUN apt-get update \\\n  # a comment\n  && apt-get install -y curl\nCOPY <<EOF /etc/x\nUSER root\nEOF\nFROM build AS final\nHEALTHCHECK CMD curl -f http://localhost/\nENV A=1 B=\"two words\"\nENV LEGACY some value\n";

    #[test]
    fn stages_lines_and_inheritance() {
        let df = Dockerfile::parse(DF);
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[0].from_line, 3);
        assert_eq!(df.target(Some("FINAL")), Some(1));
        let run = &df.stages[0].instructions[1];
        assert_eq!((run.cmd.as_str(), run.line), ("RUN", 5));
        assert!(run.args.contains("apt-get install"), "{}", run.args);
        // USER root inside the heredoc is content, not an instruction.
        assert_eq!(df.last(1, "USER").map(|u| (u.args.as_str(), u.line)), Some(("app", 4)));
        assert!(df.base_is_internal(1));
        assert_eq!(df.last(1, "HEALTHCHECK").map(|h| h.line), Some(12));
        assert_eq!(df.target(Some("build")), Some(0));
        assert_eq!(df.target(None), Some(1));
    }

    #[test]
    fn args_substitute_into_from() {
        let df = Dockerfile::parse(DF);
        let vars = df.arg_values(&BTreeMap::new());
        assert_eq!(substitute(&df.stages[0].from, &vars).as_deref(), Some("python:3.12"));
        let mut over = BTreeMap::new();
        over.insert("BASE".to_string(), "python:latest".to_string());
        assert_eq!(substitute("${BASE}", &df.arg_values(&over)).as_deref(), Some("python:latest"));
        assert_eq!(substitute("node:${V}", &BTreeMap::new()), None);
        assert_eq!(substitute("node:${V:-20}", &BTreeMap::new()).as_deref(), Some("node:20"));
    }

    #[test]
    fn env_pairs_in_both_forms() {
        assert_eq!(
            pairs("ENV", "A=1 B=\"two words\""),
            vec![("A".into(), Some("1".into())), ("B".into(), Some("two words".into()))]
        );
        assert_eq!(pairs("ENV", "LEGACY some value"), vec![("LEGACY".into(), Some("some value".into()))]);
        assert_eq!(pairs("ARG", "TOKEN"), vec![("TOKEN".into(), None)]);
        assert_eq!(split_words("[\"a\", \"b c\"]"), ["a", "b c"]);
        // A quoted empty word is a word: the legacy form's name is it, not the next word
        // (proptest found `ENV '' x` giving a name and a value both `x`).
        assert_eq!(split_words("'' b \"\""), ["", "b", ""]);
        assert_eq!(pairs("ENV", "''\u{2000}#(ওa"), vec![(String::new(), Some("#(ওa".into()))]);
    }

    #[test]
    fn non_ascii_never_splits_a_character() {
        assert_eq!(pairs("ENV", "\"é"), vec![("é".into(), Some(String::new()))]);
        assert_eq!(pairs("ENV", "\"é\" ünïcode välue"), vec![("é".into(), Some("ünïcode välue".into()))]);
        assert_eq!(pairs("ENV", "'naïve' x"), vec![("naïve".into(), Some("x".into()))]);
        for text in ["ENV \"é\n", "FROM ä AS ö\nUSER ü\nENV 日本 語\n", "RUN <<é\né\n", "# escape=`\nENV é`\n x\n"]
        {
            let df = Dockerfile::parse(text);
            for ins in df.stages.iter().flat_map(|s| &s.instructions).chain(&df.global_args) {
                let _ = pairs(&ins.cmd, &ins.args);
            }
        }
        assert_eq!(substitute("${é:-ü}$ä", &BTreeMap::new()), None);
        assert_eq!(substitute("${é:-ü}", &BTreeMap::new()).as_deref(), Some("ü"));
    }

    #[test]
    fn long_stage_chains_and_heredoc_runs_stay_linear() {
        // Each stage built from the one before: a recursive walk would overflow the stack.
        let mut text = "FROM a:1 AS s0\n".to_string();
        for i in 1..100_000 {
            text.push_str(&format!("FROM s{} AS s{i}\n", i - 1));
        }
        let df = Dockerfile::parse(&text);
        let last = df.stages.len() - 1;
        assert!(df.last(last, "USER").is_none());
        assert!(df.base_is_internal(last) && !df.base_is_internal(0));
        assert_eq!(df.target(Some("s5")), Some(5));
        let started = std::time::Instant::now();
        let run = format!("FROM a:1\nRUN {}\nUSER app\n", "<<".repeat(500_000));
        assert_eq!(Dockerfile::parse(&run).last(0, "USER").map(|u| u.line), Some(3));
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
        assert_eq!(heredocs("cat <<EOF <<-\"EOT\" <<EOF; <<<<x"), ["EOF", "EOT", "x"]);
    }
}
