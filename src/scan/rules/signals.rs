//! A shell as PID 1 (CMP020). The kernel delivers no signal to a namespace's PID 1 that
//! it has no handler for, and a shell waiting for its child installs none for SIGTERM
//! and forwards nothing: `docker stop` (every deploy, scale and restore) waits the whole
//! grace period, then SIGKILLs, and the service never shuts down cleanly. Flagged only
//! where the shell is certainly PID 1: a shell-form CMD or ENTRYPOINT of the service's
//! Dockerfile, or `sh -c` in its `entrypoint`/`command`, without `init: true` and without
//! `exec`. A program run directly as PID 1 may install its own handler (the scan cannot
//! tell), and an entrypoint script usually ends with `exec "$@"`: neither is flagged.

use super::Cx;
use crate::scan::compose::Service;
use crate::scan::dockerfile::split_words;
use crate::scan::finding::Finding;
use crate::scan::yaml::Node;

/// Programs that run as PID 1 to reap and forward signals.
const INITS: &[&str] = &["tini", "dumb-init", "docker-init", "catatonit", "s6-svscan", "runsvdir", "supervisord"];

const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh"];

fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// What a shell script runs as PID 1: `None` when it starts with `exec` (the shell is
/// replaced), else the script for the message.
fn shell_stays(script: &str) -> Option<String> {
    let t = script.trim_start();
    let first = t.split_whitespace().next().unwrap_or_default();
    (first != "exec").then(|| t.chars().take(60).collect())
}

/// For an argument vector: `Some(script)` when it is `<shell> -c <script>` and the shell
/// stays PID 1.
fn shell_c(words: &[String]) -> Option<String> {
    let (prog, rest) = words.split_first()?;
    if !SHELLS.contains(&base(prog)) {
        return None;
    }
    let i = rest.iter().position(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('c'))?;
    shell_stays(rest.get(i + 1).map_or("", String::as_str))
}

fn is_init(words: &[String]) -> bool {
    words.first().is_some_and(|w| INITS.contains(&base(w)))
}

/// The words of a compose `entrypoint`/`command`: a list, or a string Compose splits.
fn words_of(n: &Node) -> Option<Vec<String>> {
    if let Some(s) = n.as_str() {
        return Some(split_words(s));
    }
    let seq = n.as_seq();
    (!seq.is_empty()).then(|| seq.iter().filter_map(Node::as_str).map(str::to_string).collect())
}

pub fn check(cx: &Cx<'_>, svc: &Service<'_>, out: &mut Vec<Finding>) {
    let n = svc.node;
    if n.get("init").is_some_and(Node::is_true) {
        return;
    }
    let name = svc.name;
    let flag = |at: &Node, what: String| {
        cx.at("CMP020", at, svc, format!("service `{name}` runs a shell as PID 1 ({what}) without `init: true`"))
            .key("pid1")
    };
    // Compose's entrypoint decides PID 1; then its command, when no entrypoint wraps it.
    let compose_entry = n.entry("entrypoint").filter(|(_, v)| !v.is_null());
    if let Some((k, v)) = compose_entry {
        if let Some(script) = words_of(v).filter(|w| !is_init(w)).and_then(|w| shell_c(&w)) {
            out.push(flag(k, format!("`entrypoint` runs `sh -c {script}`")));
        }
        return;
    }
    let df = cx.build(svc).and_then(|b| {
        let df = cx.dockerfile(&b)?;
        let stage = df.target(b.target.as_deref())?;
        let name = b
            .dockerfile
            .as_ref()
            .and_then(|p| p.file_name())
            .map_or("inline Dockerfile".into(), |f| f.to_string_lossy());
        Some((df.last(stage, "ENTRYPOINT").cloned(), df.last(stage, "CMD").cloned(), name.into_owned()))
    });
    let (entry, cmd, file) = df.unwrap_or((None, None, String::new()));
    // A Dockerfile ENTRYPOINT in shell form runs `/bin/sh -c` and ignores any command.
    if let Some(e) = &entry {
        let exec_form = e.args.trim_start().starts_with('[');
        let words = split_words(&e.args);
        let script = if exec_form { shell_c(&words) } else { shell_stays(&e.args) };
        if let Some(script) = script.filter(|_| !is_init(&words)) {
            let form = if exec_form { "runs `sh -c`" } else { "is in shell form" };
            out.push(flag(svc.key, format!("its {file} ENTRYPOINT (line {}) {form}: `{script}`", e.line)));
        }
        return;
    }
    if let Some((k, v)) = n.entry("command").filter(|(_, v)| !v.is_null()) {
        if let Some(script) = words_of(v).and_then(|w| shell_c(&w)) {
            out.push(flag(k, format!("`command` runs `sh -c {script}`")));
        }
        return;
    }
    if let Some(c) = cmd {
        let exec_form = c.args.trim_start().starts_with('[');
        let words = split_words(&c.args);
        let script = if exec_form { shell_c(&words) } else { shell_stays(&c.args) };
        if let Some(script) = script.filter(|_| !is_init(&words)) {
            let form = if exec_form { "runs `sh -c`" } else { "is in shell form" };
            out.push(flag(svc.key, format!("its {file} CMD (line {}) {form}: `{script}`", c.line)));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::rules::testing::scan;

    fn svc(name: &str, body: &str) -> String {
        format!("  {name}:\n{body}")
    }

    #[test]
    fn cmp020_a_shell_as_pid_1() {
        let yaml = String::from("services:\n")
            + &svc("shellcmd", "    build: ./shell\n")
            + &svc("execcmd", "    build: ./exec\n")
            + &svc("withinit", "    build: ./shell\n    init: true\n")
            + &svc("shellc", "    image: x:1\n    command: [\"sh\", \"-c\", \"python app.py\"]\n")
            + &svc("shellexec", "    image: x:1\n    command: sh -c 'exec python app.py'\n")
            + &svc("plain", "    image: x:1\n    command: python app.py\n")
            + &svc("overridden", "    build: ./shell\n    command: [\"python\", \"app.py\"]\n")
            + &svc("entry", "    build: ./entry\n")
            + &svc("tini", "    build: ./tini\n")
            + &svc("prefixed", "    build: ./prefixed\n")
            + &svc("composeentry", "    image: x:1\n    entrypoint: [\"/bin/bash\", \"-ec\", \"./run\"]\n");
        let files = [
            ("shell/Dockerfile", "FROM a:1\nCMD python app.py\n"),
            ("exec/Dockerfile", "FROM a:1\nCMD [\"python\", \"app.py\"]\n"),
            ("entry/Dockerfile", "FROM a:1\nENTRYPOINT /entrypoint.sh\nCMD [\"x\"]\n"),
            ("tini/Dockerfile", "FROM a:1\nENTRYPOINT [\"/sbin/tini\", \"--\"]\nCMD python app.py\n"),
            ("prefixed/Dockerfile", "FROM a:1\nCMD exec python app.py\n"),
        ];
        let s = scan(&yaml, &files);
        let mut got: Vec<String> = s.of("CMP020").into_iter().map(|(svc, _)| svc).collect();
        got.sort();
        assert_eq!(got, ["composeentry", "entry", "shellc", "shellcmd"]);
        let msgs = s.messages("CMP020");
        assert!(
            msgs.iter().any(|m| m.contains("Dockerfile CMD (line 2) is in shell form: `python app.py`")),
            "{msgs:?}"
        );
        assert!(msgs.iter().any(|m| m.contains("`command` runs `sh -c python app.py`")), "{msgs:?}");
    }
}
