//! The throwaway copy a drill restores into: the live project's compose model, as
//! Compose itself normalized it, rewritten so that it shares nothing with the live
//! project (its own project name, volumes and network; no published port, no fixed
//! container name, no fixed address; host folders mounted read-only), and its removal
//! by the engine's compose labels, which needs neither the file nor Compose.
//!
//! The file is made from `compose config` output (interpolated; both Compose versions
//! write a literal `$` there as `$$`, so reading it again gives the same values) rather
//! than an override file: Compose v1 cannot remove a list such as `ports:` in an
//! override, and v2 needs `!reset` (2.24+) for it.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

use crate::compose::Flavour;
use crate::docker::{Engine, LABEL_PROJECT};

/// The compose project name of the copy of `project` that drills set `id`.
pub fn copy_name(project: &str, id: &str) -> String {
    let id: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    format!("{project}-drill-{}", id.to_ascii_lowercase())
}

/// The image each service runs: its `image:`, else the name Compose gives the image it
/// builds for the live project (so the copy runs what the live project runs).
pub fn images(config: &Value, live_project: &str, flavour: Flavour) -> Vec<(String, String)> {
    let sep = if flavour == Flavour::V2 { "-" } else { "_" };
    services(config)
        .map(|(name, s)| {
            let image = s
                .get("image")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| format!("{live_project}{sep}{name}"));
            (name.clone(), image)
        })
        .collect()
}

fn services(config: &Value) -> impl Iterator<Item = (&String, &Value)> {
    config.get("services").and_then(Value::as_object).into_iter().flatten()
}

/// The copy's compose model made from the live one (`config` as `compose config`
/// printed it). `present` holds the images the engine has: a service whose image is
/// there loses its `build:` (the copy runs the live image, nothing is rebuilt); one
/// whose image is missing (a new server) keeps it. Returns the model and warnings.
pub fn copy_config(
    mut config: Value,
    live_project: &str,
    flavour: Flavour,
    present: &BTreeSet<String>,
) -> Result<(Value, Vec<String>)> {
    let images: HashMap<String, String> = images(&config, live_project, flavour).into_iter().collect();
    let top = config.as_object_mut().ok_or_else(|| anyhow!("`compose config` printed no mapping"))?;
    let mut warnings = Vec::new();
    // The project name comes from --project-name only.
    top.remove("name");
    // Named volumes and networks: the copy's own, local, under its project name.
    for key in ["volumes", "networks"] {
        for (_, def) in top.get_mut(key).and_then(Value::as_object_mut).into_iter().flatten() {
            if let Some(d) = def.as_object_mut() {
                for k in ["name", "external", "driver_opts", "ipam"] {
                    d.remove(k);
                }
                if key == "volumes" {
                    // A volume driver may reach shared storage (NFS, a cloud disk).
                    d.remove("driver");
                }
            }
        }
    }
    let Some(svcs) = top.get_mut("services").and_then(Value::as_object_mut) else {
        bail!("the compose project has no services");
    };
    for (name, svc) in svcs.iter_mut() {
        let s = svc.as_object_mut().ok_or_else(|| anyhow!("service `{name}` is not a mapping"))?;
        match s.get("network_mode").and_then(Value::as_str) {
            Some(m) if m == "host" || m.starts_with("container:") => bail!(
                "service `{name}` uses `network_mode: {m}`: its copy would share the live network (and ports); a drill cannot isolate it"
            ),
            _ => {}
        }
        for k in ["ports", "container_name", "restart", "hostname", "mac_address"] {
            s.remove(k);
        }
        if let Some(from) = s.get("volumes_from").and_then(Value::as_array) {
            if from.iter().any(|v| v.as_str().is_some_and(|v| v.starts_with("container:"))) {
                bail!(
                    "service `{name}` mounts the volumes of a named container (`volumes_from: container:...`); a drill cannot isolate it"
                );
            }
        }
        // Fixed addresses would clash with the live containers'.
        if let Some(nets) = s.get_mut("networks").and_then(Value::as_object_mut) {
            for (_, n) in nets.iter_mut() {
                if let Some(n) = n.as_object_mut() {
                    n.remove("ipv4_address");
                    n.remove("ipv6_address");
                }
            }
        }
        if let Some(image) = images.get(name) {
            s.insert("image".into(), Value::String(image.clone()));
            if present.contains(image) {
                s.remove("build");
                s.remove("pull_policy");
            }
        }
        if let Some(vols) = s.get_mut("volumes").and_then(Value::as_array_mut) {
            for v in vols.iter_mut() {
                if let Some(path) = read_only_bind(v) {
                    warnings.push(format!("service `{name}`: host folder `{path}` is mounted read-only in the copy"));
                }
            }
        }
    }
    Ok((config, warnings))
}

/// Make a bind mount read-only (long or short syntax); returns its host path when it
/// was one. Named and anonymous volumes are left alone: they are the copy's own.
fn read_only_bind(v: &mut Value) -> Option<String> {
    match v {
        Value::Object(m) => {
            if m.get("type").and_then(Value::as_str) != Some("bind") {
                return None;
            }
            m.insert("read_only".into(), Value::Bool(true));
            Some(m.get("source").and_then(Value::as_str).unwrap_or_default().to_string())
        }
        Value::String(s) => {
            let text = s.clone();
            let parts: Vec<&str> = text.split(':').collect();
            let src = parts.first().copied().unwrap_or_default();
            if parts.len() < 2 || !(src.starts_with('/') || src.starts_with('.') || src.starts_with('~')) {
                return None;
            }
            let (src_dst, mode) = match parts.len() {
                2 => (parts[..2].join(":"), None),
                _ => (parts[..2].join(":"), Some(parts[2..].join(":"))),
            };
            let mode: Vec<String> = mode
                .map(|m| m.split(',').filter(|o| *o != "rw" && *o != "ro").map(String::from).collect())
                .unwrap_or_default();
            let opts = std::iter::once("ro".to_string()).chain(mode).collect::<Vec<_>>().join(",");
            *v = Value::String(format!("{src_dst}:{opts}"));
            Some(src.to_string())
        }
        _ => None,
    }
}

/// Remove everything of compose project `project` from the engine: its containers
/// (with their anonymous volumes), then its volumes and networks. Returns what was
/// removed, for the report. Idempotent: a second call finds nothing.
pub async fn remove_project(engine: &Engine, project: &str) -> Result<Vec<String>> {
    let api = engine.api();
    let filters: HashMap<String, Vec<String>> =
        HashMap::from([("label".into(), vec![format!("{LABEL_PROJECT}={project}")])]);
    let mut removed = Vec::new();
    let mut errors = Vec::new();
    let opts = bollard::query_parameters::ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    let containers = api
        .list_containers(Some(opts))
        .await
        .map_err(|e| anyhow!("cannot list containers: {}", crate::docker::short_err(&e)))?;
    for c in containers {
        let Some(id) = c.id else { continue };
        let opts = bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        match api.remove_container(&id, Some(opts)).await {
            Ok(()) => {
                removed.push(format!("container {}", c.names.unwrap_or_default().join(",").trim_start_matches('/')))
            }
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => {
                errors.push(format!("container {}: {}", crate::docker::short_id(&id), crate::docker::short_err(&e)))
            }
        }
    }
    let vols = api
        .list_volumes(Some(bollard::query_parameters::ListVolumesOptions { filters: Some(filters.clone()) }))
        .await
        .map_err(|e| anyhow!("cannot list volumes: {}", crate::docker::short_err(&e)))?;
    for v in vols.volumes.unwrap_or_default() {
        // A helper container of the restore (not labelled with the project) that was
        // still working in the volume when the drill was stopped.
        let users = HashMap::from([("volume".to_string(), vec![v.name.clone()])]);
        let opts = bollard::query_parameters::ListContainersOptionsBuilder::default().all(true).filters(&users).build();
        for c in api.list_containers(Some(opts)).await.unwrap_or_default() {
            let Some(id) = c.id else { continue };
            let opts = bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).v(true).build();
            if api.remove_container(&id, Some(opts)).await.is_ok() {
                removed.push(format!("helper container {}", crate::docker::short_id(&id)));
            }
        }
        match api.remove_volume(&v.name, Some(bollard::query_parameters::RemoveVolumeOptions { force: true })).await {
            Ok(()) => removed.push(format!("volume {}", v.name)),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => errors.push(format!("volume {}: {}", v.name, crate::docker::short_err(&e))),
        }
    }
    let nets = api
        .list_networks(Some(bollard::query_parameters::ListNetworksOptions { filters: Some(filters) }))
        .await
        .map_err(|e| anyhow!("cannot list networks: {}", crate::docker::short_err(&e)))?;
    for n in nets {
        let name = n.name.unwrap_or_default();
        match api.remove_network(n.id.as_deref().unwrap_or(&name)).await {
            Ok(()) => removed.push(format!("network {name}")),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => errors.push(format!("network {name}: {}", crate::docker::short_err(&e))),
        }
    }
    if !errors.is_empty() {
        bail!("the drill copy `{project}` could not be removed entirely: {}", errors.join("; "));
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_config() -> Value {
        serde_json::json!({
            "name": "shop",
            "services": {
                "db": { "image": "shop-db:15", "build": { "context": "/src/db" }, "volumes": [
                    { "type": "volume", "source": "data", "target": "/var/lib/pg" },
                    { "type": "bind", "source": "/srv/shop/conf", "target": "/etc/conf" } ],
                    "restart": "unless-stopped" },
                "web": { "build": { "context": "/src/web" }, "container_name": "shop-web",
                    "ports": [ { "target": 80, "published": "8080" } ],
                    "networks": { "default": { "ipv4_address": "10.5.0.5" } } },
            },
            "volumes": { "data": { "name": "shop_data" }, "shared": { "name": "nfs", "external": true, "driver": "local", "driver_opts": { "type": "nfs" } } },
            "networks": { "default": { "name": "shop_default", "ipam": { "config": [ { "subnet": "10.5.0.0/16" } ] } } }
        })
    }

    #[test]
    fn the_copy_shares_nothing_with_the_live_project() {
        let present: BTreeSet<String> = ["shop-db:15".to_string()].into();
        let (c, warnings) = copy_config(v2_config(), "shop", Flavour::V2, &present).unwrap();
        assert!(c.get("name").is_none());
        assert_eq!(c["volumes"]["data"], serde_json::json!({}));
        assert_eq!(c["volumes"]["shared"], serde_json::json!({}), "external, named, driven: made local");
        assert_eq!(c["networks"]["default"], serde_json::json!({}));
        let web = &c["services"]["web"];
        assert!(web.get("ports").is_none() && web.get("container_name").is_none());
        assert_eq!(web["networks"]["default"], serde_json::json!({}));
        // No image of its own on the engine: keeps build, under the live project's image name.
        assert_eq!(web["image"], "shop-web");
        assert!(web.get("build").is_some());
        let db = &c["services"]["db"];
        assert!(db.get("build").is_none() && db.get("restart").is_none());
        assert_eq!(db["volumes"][1]["read_only"], true);
        assert!(db["volumes"][0].get("read_only").is_none());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn v1_short_binds_become_read_only_and_v1_image_names_use_underscores() {
        let cfg = serde_json::json!({ "version": "3.9", "services": { "app": {
            "build": { "context": "/src" },
            "volumes": ["/srv/x:/x:rw", "./y:/y", "data:/data:rw", "/z:/z:ro,z"] } } });
        let (c, w) = copy_config(cfg, "shop", Flavour::V1, &["shop_app".to_string()].into()).unwrap();
        let vols = &c["services"]["app"]["volumes"];
        assert_eq!(vols, &serde_json::json!(["/srv/x:/x:ro", "./y:/y:ro", "data:/data:rw", "/z:/z:ro,z"]));
        assert_eq!(c["services"]["app"]["image"], "shop_app");
        assert!(c["services"]["app"].get("build").is_none());
        assert_eq!(w.len(), 3);
    }

    #[test]
    fn host_networking_cannot_be_isolated() {
        let cfg = serde_json::json!({ "services": { "app": { "image": "x", "network_mode": "host" } } });
        let e = copy_config(cfg, "p", Flavour::V2, &BTreeSet::new()).unwrap_err().to_string();
        assert!(e.contains("network_mode: host"), "{e}");
    }

    #[test]
    fn copy_names_are_valid_compose_project_names() {
        assert_eq!(copy_name("shop", "20240101_020000"), "shop-drill-20240101020000");
        assert_eq!(copy_name("shop", "20240101_020000-2"), "shop-drill-20240101020000-2");
    }
}
