//! The version ccops reports with `--version` / `-V`: the package version and the commit it
//! was built from, as rustc and cargo print theirs: `ccops 0.1.0 (abc1234 2026-12-05)`.
//! build.rs finds the commit; a build from a copy without git history says so instead of
//! guessing, and a build from a tree with uncommitted changes is marked `-dirty`.

use std::sync::LazyLock;

/// What clap prints after the command's name.
pub static VERSION: LazyLock<String> = LazyLock::new(|| {
    describe(
        env!("CARGO_PKG_VERSION"),
        env!("BUILD_COMMIT"),
        env!("BUILD_COMMIT_DATE"),
        !env!("BUILD_DIRTY").is_empty(),
    )
});

/// `0.1.0 (abc1234 2026-12-05)`, `0.1.0 (abc1234-dirty 2026-12-05)`, or
/// `0.1.0 (commit unknown)` when the build had no git checkout to ask.
fn describe(version: &str, commit: &str, date: &str, dirty: bool) -> String {
    if commit.is_empty() {
        return format!("{version} (commit unknown)");
    }
    let dirty = if dirty { "-dirty" } else { "" };
    if date.is_empty() { format!("{version} ({commit}{dirty})") } else { format!("{version} ({commit}{dirty} {date})") }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn names_the_commit_its_date_and_uncommitted_changes() {
        for (commit, date, dirty, expected) in [
            ("abc1234", "2026-12-05", false, "0.1.0 (abc1234 2026-12-05)"),
            ("abc1234", "2026-12-05", true, "0.1.0 (abc1234-dirty 2026-12-05)"),
            ("abc1234", "", false, "0.1.0 (abc1234)"),
            // No git checkout at build time: no commit to name, so no dirty marker either.
            ("", "", false, "0.1.0 (commit unknown)"),
            ("", "", true, "0.1.0 (commit unknown)"),
        ] {
            assert_eq!(describe("0.1.0", commit, date, dirty), expected);
        }
    }

    #[test]
    fn the_built_version_starts_with_the_package_version() {
        assert!(super::VERSION.starts_with(concat!(env!("CARGO_PKG_VERSION"), " (")), "{}", *super::VERSION);
    }
}
