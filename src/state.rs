//! What ccops remembers between runs, in the state directory (SPEC §4): the desired
//! number of replicas per service of each environment, and the journal of changes under
//! way that a killed ccops leaves for the next run to put right. Putting it right needs
//! each kind of data's own knowledge, so it is done above both (snapshot/recover.rs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Settings;

/// Replica counts set by `ccops scale` for the settings' environment (empty when none).
pub fn desired_scale(s: &Settings) -> BTreeMap<String, u32> {
    let path = s.state_dir.join(format!("scale-{}.json", s.env_name));
    std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

/// The journal (`journal.json` in the state directory): every change a killed ccops would
/// leave half done, recorded before it starts and removed when it is over, so the next
/// run that takes the project lock puts things right (`snapshot::recover`) before it acts.
/// It is a set: the concurrent steps of one run each add and remove their own entries.
const JOURNAL: &str = "journal.json";
/// The journal of earlier versions: the containers they stopped, as `[[id, name], ...]`.
const LEGACY_JOURNAL: &str = "stopped.json";

/// Serialises the journal's read-modify-write among the steps of this process; other
/// processes are kept out by the project lock, which every writer holds.
static JOURNAL_EDIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One change under way. The `phase` names what was about to happen when it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
pub enum Entry {
    /// A container ccops stopped (or is about to) and will start again.
    Stopped { container: String, name: String },
    /// A volume's contents are moved aside for a restore: undone (new files discarded,
    /// old ones put back).
    VolumeMovedAside(VolumeSide),
    /// A volume's restored contents are complete: finished (the old ones deleted).
    VolumeRestored(VolumeSide),
    /// A database is being loaded into a staging copy: undone (the copy dropped).
    PostgresStaging(PgSide),
    /// The live database is being swapped with the complete staging copy: undone (the
    /// previous database gets its name back).
    PostgresSwap(PgSide),
    /// The restored database is in place: finished (the previous one dropped).
    PostgresSwapped(PgSide),
    /// Redis' RDB file is being replaced while Redis is stopped: undone (the file kept in
    /// `saved` put back).
    RedisRdbReplaced(RdbSide),
    /// A helper container reading a volume for a backup: removed.
    Helper { container: String },
}

/// A volume under restore: its engine name, the image of the helper container that
/// works in it, and the folder inside it that holds the previous contents.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VolumeSide {
    pub volume: String,
    pub image: String,
    pub aside: String,
}

/// A database under restore: where it lives and the names of its two side copies.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PgSide {
    pub project: String,
    pub service: String,
    pub user: String,
    pub database: String,
    pub staging: String,
    pub old: String,
}

/// A Redis RDB file under restore: the container that holds it, the file's folder and
/// name in it, and a tar of the previous file in the state directory (`None`: there was
/// no file). `helper`: the container is ccops' helper mounting the data volume of a
/// Swarm task (removed, not started, when put right).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RdbSide {
    pub container: String,
    pub name: String,
    pub dir: String,
    pub file: String,
    pub saved: Option<std::path::PathBuf>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub helper: bool,
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entry::Stopped { name, .. } => write!(f, "container `{name}` stopped"),
            Entry::VolumeMovedAside(v) => {
                write!(f, "volume `{}` being restored (its previous contents moved aside to `{}`)", v.volume, v.aside)
            }
            Entry::VolumeRestored(v) => {
                write!(f, "volume `{}` restored (its previous contents in `{}` still to delete)", v.volume, v.aside)
            }
            Entry::PostgresStaging(p) => {
                write!(f, "database `{}` of service `{}` being loaded into `{}`", p.database, p.service, p.staging)
            }
            Entry::PostgresSwap(p) => write!(
                f,
                "database `{}` of service `{}` being swapped with its restored copy (the previous one renamed `{}`)",
                p.database, p.service, p.old
            ),
            Entry::PostgresSwapped(p) => write!(
                f,
                "database `{}` of service `{}` restored (its previous copy `{}` still to drop)",
                p.database, p.service, p.old
            ),
            Entry::RedisRdbReplaced(r) => {
                write!(f, "redis `{}`: its RDB file `{}/{}` being replaced", r.name, r.dir, r.file)
            }
            Entry::Helper { container } => {
                write!(f, "helper container {} reading a volume", crate::docker::short_id(container))
            }
        }
    }
}

pub fn journal_path(state_dir: &Path) -> PathBuf {
    state_dir.join(JOURNAL)
}

/// The journal's entries, the legacy file's included. An unreadable journal is an error:
/// it is never taken for an empty one.
pub fn journal(state_dir: &Path) -> anyhow::Result<Vec<Entry>> {
    let _held = JOURNAL_EDIT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    read_journal(state_dir)
}

fn read_journal(state_dir: &Path) -> anyhow::Result<Vec<Entry>> {
    let path = journal_path(state_dir);
    let unreadable = |e: String| {
        anyhow::anyhow!(
            "the journal `{}` cannot be read ({e}); it says what a killed ccops left half done: check it by hand, then move it away",
            path.display()
        )
    };
    let mut list: Vec<Entry> = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(unreadable(crate::util::io_reason(&e))),
    };
    if let Ok(text) = std::fs::read_to_string(state_dir.join(LEGACY_JOURNAL)) {
        let legacy: Vec<(String, String)> = serde_json::from_str(&text).unwrap_or_default();
        for (container, name) in legacy {
            let e = Entry::Stopped { container, name };
            if !list.contains(&e) {
                list.push(e);
            }
        }
    }
    Ok(list)
}

/// Read, change and write back the journal, atomically and durably.
fn edit_journal(state_dir: &Path, change: impl FnOnce(&mut Vec<Entry>)) -> anyhow::Result<()> {
    let _held = JOURNAL_EDIT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut list = read_journal(state_dir)?;
    change(&mut list);
    let path = journal_path(state_dir);
    if list.is_empty() {
        match std::fs::remove_file(&path) {
            Ok(()) => crate::util::fsync_dir(state_dir)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("cannot update the journal `{}`: {}", path.display(), crate::util::io_reason(&e)),
        }
    } else {
        crate::util::create_private_dir(state_dir)?;
        let text = serde_json::to_string_pretty(&list)?;
        crate::util::write_atomic(&path, text.as_bytes(), 0o600)?;
    }
    // Its entries live in the new journal now.
    let _ = std::fs::remove_file(state_dir.join(LEGACY_JOURNAL));
    Ok(())
}

/// Record `entries` before the change they describe starts.
pub fn journal_add(state_dir: &Path, entries: &[Entry]) -> anyhow::Result<()> {
    edit_journal(state_dir, |list| {
        for e in entries {
            if !list.contains(e) {
                list.push(e.clone());
            }
        }
    })
}

/// Move an entry on to its next phase (added when `from` is not there).
pub fn journal_replace(state_dir: &Path, from: &Entry, to: Entry) -> anyhow::Result<()> {
    edit_journal(state_dir, |list| {
        list.retain(|e| e != from && *e != to);
        list.push(to);
    })
}

/// Forget entries whose change is over.
pub fn journal_remove(state_dir: &Path, entries: &[Entry]) -> anyhow::Result<()> {
    edit_journal(state_dir, |list| list.retain(|e| !entries.contains(e)))
}

fn stopped_entries(stopped: &[(String, String)]) -> Vec<Entry> {
    stopped
        .iter()
        .map(|(container, name)| Entry::Stopped { container: container.clone(), name: name.clone() })
        .collect()
}

/// Record containers (id, name) before stopping them.
pub fn record_stopped(state_dir: &Path, stopped: &[(String, String)]) -> anyhow::Result<()> {
    journal_add(state_dir, &stopped_entries(stopped))
}

/// Forget containers (id, name) that were started again (or never stopped).
pub fn clear_stopped(state_dir: &Path, stopped: &[(String, String)]) {
    if let Err(e) = journal_remove(state_dir, &stopped_entries(stopped)) {
        crate::output::warn(format!("{e:#}"));
    }
}

/// What a killed ccops left half done, in a line for `ccops health`; `None` when nothing.
pub fn unfinished(state_dir: &Path) -> Option<String> {
    // While a live operation holds the lock, its journal is work in progress (a health
    // check during the nightly backup must not page anyone).
    if crate::lock::is_held(state_dir) {
        return None;
    }
    let list = match journal(state_dir) {
        Ok(list) if list.is_empty() => return None,
        Ok(list) => list,
        Err(e) => return Some(format!("{e:#}")),
    };
    let what: Vec<String> = list.iter().map(Entry::to_string).collect();
    Some(format!(
        "a ccops run was killed before it finished: {}; `ccops restore` or `ccops backup` puts this right first",
        what.join("; ")
    ))
}

/// Start a container unless it runs; false when there was nothing to do (running, or
/// gone: Compose recreated it meanwhile).
pub async fn start_if_stopped(engine: &crate::docker::Engine, id: &str) -> anyhow::Result<bool> {
    match engine.api().inspect_container(id, None).await {
        Ok(info) if info.state.as_ref().and_then(|s| s.running) == Some(true) => Ok(false),
        Ok(_) => engine.start(id).await.map(|()| true),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
        Err(e) => {
            anyhow::bail!("cannot inspect container {}: {}", crate::docker::short_id(id), crate::docker::short_err(&e))
        }
    }
}

/// For the tests of a killed restore only: when `CCOPS_FAILPOINT` names `point`, the
/// process kills itself with SIGKILL there, as a power cut or the OOM killer would.
pub fn failpoint(point: &str) {
    static WANTED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var(crate::env_vars::CCOPS_FAILPOINT).ok());
    if wanted.as_deref() == Some(point) {
        crate::output::warn(format!("failpoint `{point}`: killing this process"));
        // SAFETY: kill(2) on our own pid; SIGKILL cannot be caught, nothing runs after.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

fn scale_path(s: &Settings) -> std::path::PathBuf {
    s.state_dir.join(format!("scale-{}.json", s.env_name))
}

/// Save the replica counts `ccops scale` set for the settings' environment (the whole
/// map: merge with `desired_scale` first). `deploy` and `health` read them back.
pub fn save_desired_scale(s: &Settings, scale: &BTreeMap<String, u32>) -> anyhow::Result<()> {
    crate::util::create_private_dir(&s.state_dir)?;
    let text = serde_json::to_string_pretty(scale)?;
    crate::util::write_atomic(&scale_path(s), text.as_bytes(), 0o600)
}

/// The deployment history of the settings' environment: a JSON array of releases.
pub fn releases_path(s: &Settings) -> std::path::PathBuf {
    s.state_dir.join(format!("releases-{}.json", s.env_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stopped(id: &str) -> (String, String) {
        (id.to_string(), format!("ctr-{id}"))
    }

    fn side(v: &str) -> VolumeSide {
        VolumeSide { volume: v.into(), image: "img".into(), aside: ".ccops-before-restore-1".into() }
    }

    #[test]
    fn the_journal_is_a_set_each_step_adds_to_and_removes_from() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        record_stopped(d, &[stopped("a"), stopped("b")]).unwrap();
        // A second step (Redis) adds its container; it does not overwrite the others.
        record_stopped(d, &[stopped("r"), stopped("a")]).unwrap();
        journal_add(d, &[Entry::VolumeMovedAside(side("v"))]).unwrap();
        assert_eq!(journal(d).unwrap().len(), 4);
        clear_stopped(d, &[stopped("r")]);
        journal_replace(d, &Entry::VolumeMovedAside(side("v")), Entry::VolumeRestored(side("v"))).unwrap();
        let left = journal(d).unwrap();
        assert_eq!(
            left,
            vec![
                Entry::Stopped { container: "a".into(), name: "ctr-a".into() },
                Entry::Stopped { container: "b".into(), name: "ctr-b".into() },
                Entry::VolumeRestored(side("v")),
            ]
        );
        let text = std::fs::read_to_string(d.join(JOURNAL)).unwrap();
        assert!(text.contains("\"phase\": \"volume-restored\""), "{text}");
        journal_remove(d, &left).unwrap();
        assert!(!d.join(JOURNAL).exists(), "an empty journal is no file");
        assert_eq!(unfinished(d), None);
    }

    #[test]
    fn concurrent_steps_keep_each_others_entries() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let d = d.clone();
                std::thread::spawn(move || {
                    for j in 0..20 {
                        record_stopped(&d, &[stopped(&format!("{i}-{j}"))]).unwrap();
                    }
                    for j in 0..20 {
                        if j % 2 == 0 {
                            clear_stopped(&d, &[stopped(&format!("{i}-{j}"))]);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(journal(&d).unwrap().len(), 8 * 10);
    }

    #[test]
    fn reads_the_legacy_journal_and_refuses_a_damaged_one() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join(LEGACY_JOURNAL), r#"[["abc","proj-backend-1"]]"#).unwrap();
        assert_eq!(
            journal(d).unwrap(),
            vec![Entry::Stopped { container: "abc".into(), name: "proj-backend-1".into() }]
        );
        let line = unfinished(d).unwrap();
        assert!(line.contains("`proj-backend-1` stopped") && line.contains("`ccops restore`"), "{line}");
        // The first write moves the legacy entries into the journal.
        journal_add(d, &[Entry::VolumeMovedAside(side("v"))]).unwrap();
        assert!(!d.join(LEGACY_JOURNAL).exists());
        assert_eq!(journal(d).unwrap().len(), 2);

        std::fs::write(d.join(JOURNAL), "{ not json").unwrap();
        let err = journal(d).unwrap_err().to_string();
        assert!(err.contains("cannot be read") && err.contains("journal.json"), "{err}");
        assert!(journal_add(d, &[Entry::VolumeMovedAside(side("w"))]).is_err(), "a damaged journal is overwritten");
        assert!(unfinished(d).unwrap().contains("cannot be read"));
    }
}
