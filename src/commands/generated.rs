//! Files generated from the clap definition in cli.rs and committed: the shell
//! completions under completions/ and the man pages under docs/man/. This test fails when
//! they are stale; regenerate them with
//!
//! ```sh
//! CCOPS_REGENERATE=1 cargo test generated_files_are_up_to_date
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use clap_complete::Shell;

use crate::cli::Cli;

/// Every generated file: path relative to the repository -> contents.
fn expected() -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    // What `ccops completions SHELL` prints (tests/e2e/generated.rs checks they agree).
    for (shell, name) in [(Shell::Bash, "ccops.bash"), (Shell::Zsh, "_ccops"), (Shell::Fish, "ccops.fish")] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "ccops", &mut out);
        files.insert(Path::new("completions").join(name), out);
    }
    // As clap_mangen::generate_to does it, into memory: one page per (sub)command.
    // The package version, not the commit: a committed file cannot name its own commit.
    let mut cmd = Cli::command().version(env!("CARGO_PKG_VERSION")).disable_help_subcommand(true);
    cmd.build();
    let mut stack = vec![cmd];
    while let Some(cmd) = stack.pop() {
        stack.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
        let man = clap_mangen::Man::new(cmd);
        let mut out = Vec::new();
        man.render(&mut out).expect("render a man page");
        files.insert(Path::new("docs/man").join(man.get_filename()), out);
    }
    files
}

#[test]
fn generated_files_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = expected();
    let regenerate = std::env::var_os("CCOPS_REGENERATE").is_some_and(|v| !v.is_empty());
    if regenerate {
        // Pages of commands that no longer exist go.
        if let Ok(old) = std::fs::read_dir(root.join("docs/man")) {
            for e in old.flatten() {
                if !files.contains_key(&Path::new("docs/man").join(e.file_name())) {
                    std::fs::remove_file(e.path()).unwrap();
                }
            }
        }
    }
    let mut stale = Vec::new();
    for (rel, content) in &files {
        let path = root.join(rel);
        if std::fs::read(&path).ok().as_deref() == Some(content.as_slice()) {
            continue;
        }
        if regenerate {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        } else {
            stale.push(rel.display().to_string());
        }
    }
    let extra: Vec<String> = std::fs::read_dir(root.join("docs/man"))
        .map(|rd| {
            rd.flatten()
                .map(|e| Path::new("docs/man").join(e.file_name()))
                .filter(|p| !files.contains_key(p))
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "generated files are out of date with src/cli.rs (stale: {stale:?}, no longer generated: {extra:?}); regenerate them with\n  CCOPS_REGENERATE=1 cargo test generated_files_are_up_to_date"
    );
}
