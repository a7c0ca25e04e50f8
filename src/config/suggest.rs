//! "Did you mean ...?" for unknown keys, from serde's list of expected fields.

/// The Levenshtein distance between two short strings.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Rewrites serde's "unknown field `x`, expected one of `a`, `b`" into a message with a
/// suggestion, or returns `None` when `message` is about something else.
pub fn unknown_field_message(message: &str) -> Option<String> {
    let start = message.find("unknown field `")?;
    let (path, rest) = (message[..start].trim_end_matches(": ").trim(), &message[start + 15..]);
    let end = rest.find('`')?;
    let field = &rest[..end];
    let expected: Vec<&str> = rest[end + 1..].split('`').skip(1).step_by(2).collect();
    let place = if path.is_empty() { String::from("at the top level") } else { format!("in `{path}`") };
    let mut out = format!("unknown key `{field}` {place}");
    match closest(field, expected.iter().copied()) {
        Some(s) => out.push_str(&format!("; did you mean `{s}`?")),
        None if !expected.is_empty() => {
            out.push_str(&format!("; valid keys: {}", expected.join(", ")));
        }
        None => {}
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_key() {
        let m = "backup: unknown field `retension`, expected one of `directory`, `retention`, `postgres`";
        assert_eq!(unknown_field_message(m).unwrap(), "unknown key `retension` in `backup`; did you mean `retention`?");
    }

    #[test]
    fn lists_keys_when_nothing_is_close() {
        let m = "unknown field `zzzzzz`, expected `project` or `backup`";
        assert_eq!(
            unknown_field_message(m).unwrap(),
            "unknown key `zzzzzz` at the top level; valid keys: project, backup"
        );
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }
}
