//! Put an environment back to a recorded release: its version variable, its images by
//! the IDs recorded (tags re-pointed when they were rebuilt since), rolled out like a
//! deploy (a stack deploy on Swarm), so services that already run those images are left alone. The replica counts
//! are today's (`ccops scale` outlives releases).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;

use super::record::{ImageRecord, Release};
use super::{compose_for, images, model_of, replicas, rollout, services};
use crate::output;
use crate::project::Project;

pub struct Reverted {
    pub images: BTreeMap<String, ImageRecord>,
    pub replicas: BTreeMap<String, u32>,
    /// Services whose containers were replaced or rescaled.
    pub touched: Vec<String>,
}

pub async fn to_release(p: &Project, target: &Release, timeout: Duration) -> Result<Reverted> {
    let s = &p.settings;
    let engine = p.engine()?;
    let compose = compose_for(&p.compose, s, Some(&target.version));
    let model = model_of(&compose, s).await?;
    let services = services(&compose, engine, &model).await?;
    let missing = images::put_back(&compose, engine, &model, &target.images, &services).await?;
    if !missing.is_empty() {
        output::status(format!("  building or pulling what is gone: {}", missing.join(", ")));
        images::build_and_pull(&compose, engine, &model, &missing).await?;
    }
    let mut imgs = images::current(&compose, engine, &model, &services).await?;
    let replicas = replicas(s, &model, &services);
    let mut touched = Vec::new();
    if engine.is_swarm() {
        super::swarm::roll_out(&compose, engine, &services, &replicas, timeout, &mut touched).await?;
    } else {
        let cx = rollout::Ctx { compose: &compose, engine, model: &model, timeout, drain: s.file.deploy.drain };
        let plans = rollout::plan(&cx, &services, &replicas, &mut imgs, true).await?;
        rollout::show(&plans);
        rollout::apply(&cx, &plans, &mut touched).await?;
    }
    Ok(Reverted { images: imgs, replicas, touched })
}
