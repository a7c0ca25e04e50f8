//! What a restore puts back: each file of the set mapped onto the component of its kind
//! that ccops.yaml configures (a set may be planted, so nothing else is reachable), the
//! services that must stop meanwhile, and the steps run side by side.

use std::path::PathBuf;

use anyhow::Result;

use crate::backup::kinds::{Component, Recorded, Stored, Targets};
use crate::backup::layout::LocalSet;
use crate::docker::Engine;
use crate::output;
use crate::project::Project;

/// One thing to put back: a component of ccops.yaml and the stored file that replaces it.
#[derive(Debug)]
pub(crate) struct Step {
    pub component: Box<dyn Component>,
    pub file: PathBuf,
    /// In the replaced scripts' format (plain SQL, `docker cp` tar).
    pub legacy: bool,
}

impl Step {
    pub(crate) fn describe(&self) -> String {
        self.component.describe_restore()
    }

    pub(crate) fn matches(&self, token: &str) -> bool {
        self.component.matches(token)
    }

    /// The file's name in the set.
    pub(crate) fn file_name(&self) -> String {
        self.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// Map the set's files to what ccops.yaml and the compose project know.
pub(crate) fn steps_of(p: &Project, set: &LocalSet) -> Result<Vec<Step>> {
    let cx = Targets { p, set_id: &set.id };
    let mut steps = Vec::new();
    if let Some(m) = &set.manifest {
        for c in &m.components {
            if let Some(why) = c.kind.not_restored() {
                output::status(format!("leaving `{}` alone: {why}", c.file));
                continue;
            }
            let rec = Recorded {
                name: &c.name,
                service: c.service.as_deref(),
                database: c.database.as_deref(),
                keys: c.keys,
                legacy: false,
            };
            steps.push(Step { component: c.kind.target(&cx, &rec)?, file: set.path.join(&c.file), legacy: false });
        }
    } else if let Some(l) = &set.legacy {
        for (kind, name, file) in l.entries() {
            let rec = Recorded { name, service: None, database: None, keys: None, legacy: true };
            steps.push(Step { component: kind.target(&cx, &rec)?, file: file.clone(), legacy: true });
        }
    }
    for st in &steps {
        if let Some(svc) = st.component.service().filter(|svc| !p.model.services.contains_key(*svc)) {
            return Err(crate::usage!(
                "the backup restores into service `{svc}`, which the compose project does not have"
            ));
        }
    }
    Ok(steps)
}

/// Services that use the data being restored: for a data service (a database, a cache),
/// every service but the configured data services; for the others (a volume), each
/// component's users (those that mount it, its `stop_services`).
pub(crate) fn services_to_stop(p: &Project, steps: &[Step]) -> Vec<String> {
    let configured = crate::backup::kinds::ALL.iter().flat_map(|k| k.configured(&p.settings, &p.model));
    let data: Vec<String> = configured.filter_map(|c| c.service().map(String::from)).collect();
    let mut out: Vec<String> = Vec::new();
    if steps.iter().any(|st| st.component.service().is_some()) {
        out.extend(p.model.services.keys().filter(|n| !data.contains(n)).cloned());
    }
    for st in steps {
        out.extend(st.component.users(&p.model));
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|n| seen.insert(n.clone()));
    out
}

/// The service whose running container checks the stored files (`pg_restore --list`).
pub(crate) fn check_server(steps: &[Step]) -> Option<&str> {
    steps.iter().find_map(|st| st.component.check_server())
}

/// Run the steps at once: each has its own service or helper container (a volume used by
/// a database being restored is refused earlier), so PostgreSQL's pg_restore, the Redis
/// swap and the volume extraction overlap instead of adding up. Each step keeps its own
/// guarantee (a failed database or volume restore leaves that one as it was); when one
/// fails, the error names the steps that completed.
pub(crate) async fn run_steps(p: &Project, engine: &Engine, steps: &[Step]) -> Result<()> {
    crate::util::check_interrupt()?;
    for st in steps {
        output::status(format!("restoring {}", st.describe()));
    }
    let results = futures_util::future::join_all(steps.iter().map(|st| async move {
        let t = std::time::Instant::now();
        let r = st.component.restore(p, engine, Stored { path: &st.file, legacy: st.legacy }).await;
        if r.is_ok() {
            output::status(format!("  done in {}: {}", crate::util::human_duration(t.elapsed()), st.describe()));
        }
        r
    }))
    .await;
    let mut done = Vec::new();
    let mut failures = Vec::new();
    for (st, r) in steps.iter().zip(results) {
        match r {
            Ok(()) => done.push(st.describe()),
            Err(e) => failures.push(e),
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    if let Some(i) = failures.iter().position(|e| e.downcast_ref::<crate::error::Interrupted>().is_some()) {
        return Err(failures.swap_remove(i));
    }
    for e in failures.iter().skip(1) {
        output::error(format!("{e:#}"));
    }
    let first = failures.swap_remove(0);
    Err(if done.is_empty() { first } else { first.context(format!("restored nonetheless: {}", done.join("; "))) })
}
