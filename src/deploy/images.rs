//! Images of a release: build or pull those of the version being deployed, read which
//! image (reference and ID) each service gets, and put recorded images back for a
//! rollback by pointing their tags at the recorded IDs again.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use super::proc::{self, OnSignal, Show};
use super::record::ImageRecord;
use crate::compose::{Compose, Flavour, Model};
use crate::docker::{Engine, short_err};
use crate::output;
use crate::syntax::imageref::ImageRef;

/// The image reference Compose uses for a service: `image:`, else the name it gives a
/// built image (`<project>-<service>` on v2, `<project>_<service>` on v1).
pub fn reference(compose: &Compose, model: &Model, service: &str) -> String {
    match model.services.get(service).and_then(|s| s.image.clone()) {
        Some(i) => i,
        None => match compose.flavour {
            Flavour::V2 => format!("{}-{service}", compose.project),
            Flavour::V1 => format!("{}_{service}", compose.project),
        },
    }
}

/// Build the services that have `build:` (one build per image) and pull the others.
pub async fn build_and_pull(compose: &Compose, engine: &Engine, model: &Model, services: &[String]) -> Result<()> {
    let mut seen = Vec::new();
    let mut build: Vec<&str> = Vec::new();
    let mut pull: Vec<&str> = Vec::new();
    for name in services {
        let Some(svc) = model.services.get(name) else { continue };
        let r = reference(compose, model, name);
        if seen.contains(&r) {
            continue;
        }
        seen.push(r);
        if svc.has_build { build.push(name) } else { pull.push(name) }
    }
    if !build.is_empty() {
        output::status(format!("  building {}", build.join(", ")));
        let mut args = vec!["build"];
        args.extend(&build);
        let done = proc::run(compose.command(&args), "compose build", Show::Debug, OnSignal::Stop).await?;
        if done.code != 0 {
            bail!("the images cannot be built (`compose build {}` failed):\n  {}", build.join(" "), done.tail(8));
        }
    }
    if !pull.is_empty() {
        output::status(format!("  pulling {}", pull.join(", ")));
        let mut args = vec!["pull"];
        args.extend(&pull);
        let done = proc::run(compose.command(&args), "compose pull", Show::Debug, OnSignal::Stop).await?;
        if done.code != 0 {
            // An image that is here already may be used when its registry is unreachable.
            for name in &pull {
                let r = reference(compose, model, name);
                if !engine.image_exists(&r).await {
                    bail!("image `{r}` of service `{name}` cannot be pulled and is not here:\n  {}", done.tail(6));
                }
                output::warn(format!("cannot pull `{r}` (service `{name}`); using the copy that is here"));
            }
        }
    }
    Ok(())
}

/// The image ID (and registry digests) behind a reference, if the engine has it.
pub async fn inspect(engine: &Engine, reference: &str) -> Result<Option<ImageRecord>> {
    match engine.api().inspect_image(reference).await {
        Ok(i) => Ok(Some(ImageRecord {
            image: reference.to_string(),
            id: i.id.unwrap_or_default(),
            digests: i.repo_digests.unwrap_or_default(),
        })),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(e) => bail!("cannot inspect image `{reference}`: {}", short_err(&e)),
    }
}

/// The image every service gets now; each must exist.
pub async fn current(
    compose: &Compose,
    engine: &Engine,
    model: &Model,
    services: &[String],
) -> Result<BTreeMap<String, ImageRecord>> {
    let mut out = BTreeMap::new();
    for name in services {
        let r = reference(compose, model, name);
        match inspect(engine, &r).await? {
            Some(rec) => {
                out.insert(name.clone(), rec);
            }
            None => bail!("image `{r}` of service `{name}` does not exist; build or pull it first"),
        }
    }
    Ok(out)
}

/// Point each service's image reference at the image ID recorded for it. Returns the
/// services whose recorded image is gone and must be built or pulled again.
pub async fn put_back(
    compose: &Compose,
    engine: &Engine,
    model: &Model,
    recorded: &BTreeMap<String, ImageRecord>,
    services: &[String],
) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    for name in services {
        let r = reference(compose, model, name);
        let now = inspect(engine, &r).await?;
        let Some(rec) = recorded.get(name) else {
            if now.is_none() {
                missing.push(name.clone());
            }
            continue;
        };
        if now.as_ref().is_some_and(|n| n.id == rec.id) {
            continue;
        }
        if inspect(engine, &rec.id).await?.is_some() {
            let same = match &now {
                Some(n) => {
                    let (a, b) = (fingerprint(engine, &n.id).await, fingerprint(engine, &rec.id).await);
                    a.is_some() && a == b
                }
                None => false,
            };
            let note = format!("  `{r}` was rebuilt since; pointing it at the recorded image {} again", short(&rec.id));
            if same {
                output::debug(note)
            } else {
                output::status(note)
            }
            point(engine, &r, &rec.id).await.map_err(|e| e.context(format!("service `{name}`")))?;
            continue;
        }
        match now {
            Some(n) => output::warn(format!(
                "the recorded image {} of service `{name}` is gone; using `{r}` as it is now ({})",
                short(&rec.id),
                short(&n.id)
            )),
            None => {
                output::warn(format!(
                    "the recorded image {} of service `{name}` is gone; `{r}` must be built or pulled again",
                    short(&rec.id)
                ));
                missing.push(name.clone());
            }
        }
    }
    Ok(missing)
}

/// Tag image `id` as `reference` (the tag moves; the image it left keeps its ID).
pub async fn point(engine: &Engine, reference: &str, id: &str) -> Result<()> {
    // A digest reference cannot be tagged; no tag means `latest`.
    let r = ImageRef::parse(reference);
    if r.digest.is_some() {
        bail!("cannot point `{reference}` at image {}: not a tag", short(id));
    }
    let opts = bollard::query_parameters::TagImageOptionsBuilder::new().repo(&r.name).tag(r.tag_or_latest()).build();
    engine
        .api()
        .tag_image(id, Some(opts))
        .await
        .map_err(|e| anyhow::anyhow!("cannot tag image {} as `{reference}`: {}", short(id), short_err(&e)))
}

/// What an image is, apart from its labels: its layers and its run configuration. Compose
/// v2 labels every image it builds with the project, so two projects building the same
/// Dockerfile get two IDs for the same software; comparing this instead keeps a deploy
/// from replacing containers whose image only got other labels.
pub async fn fingerprint(engine: &Engine, id: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    let i = engine.api().inspect_image(id).await.ok()?;
    let mut config = serde_json::to_value(i.config.unwrap_or_default()).ok()?;
    if let Some(o) = config.as_object_mut() {
        o.remove("Labels");
        o.remove("labels");
    }
    let layers = i.root_fs.and_then(|r| r.layers).unwrap_or_default();
    let text = serde_json::json!({ "layers": layers, "config": config }).to_string();
    Some(hex::encode(Sha256::digest(text.as_bytes())))
}

/// `sha256:0123456789ab...` -> `0123456789ab`
pub fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens_image_ids() {
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
    }
}
