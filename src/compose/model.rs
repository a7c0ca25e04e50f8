//! The normalized service model both Compose versions print with `config`, reduced to
//! what ccops needs: services, their replicas, ports, mounts, and volume names.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Model {
    pub services: BTreeMap<String, Service>,
    /// Compose volume key -> the engine's volume name (`<project>_<key>` unless named).
    pub volumes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Service {
    pub image: Option<String>,
    pub has_build: bool,
    pub container_name: Option<String>,
    /// deploy.replicas (or the v1 `scale`), default 1.
    pub replicas: u32,
    /// Published host ports (empty when none is fixed).
    pub fixed_host_ports: Vec<String>,
    pub has_healthcheck: bool,
    /// Named volumes mounted: (compose volume key, target path).
    pub volumes: Vec<(String, String)>,
    /// deploy.update_config.order: start-first | stop-first.
    pub update_order: Option<String>,
    pub profiles: Vec<String>,
    /// depends_on (map or list form).
    pub depends_on: Vec<String>,
}

impl Model {
    pub fn from_json(project: &str, v: &Value) -> Model {
        let mut volumes = BTreeMap::new();
        if let Some(vols) = v.get("volumes").and_then(Value::as_object) {
            for (k, def) in vols {
                let external = def.get("external").is_some_and(|e| e.as_bool().unwrap_or(true) && !e.is_null());
                let name = def
                    .get("name")
                    .and_then(Value::as_str)
                    .map(String::from)
                    .unwrap_or_else(|| if external { k.clone() } else { format!("{project}_{k}") });
                volumes.insert(k.clone(), name);
            }
        }
        let mut services = BTreeMap::new();
        if let Some(svcs) = v.get("services").and_then(Value::as_object) {
            for (name, s) in svcs {
                services.insert(name.clone(), Service::from_json(s, &volumes));
            }
        }
        Model { services, volumes }
    }

    /// The engine's name of a compose volume key.
    pub fn volume_name(&self, key: &str) -> Option<&str> {
        self.volumes.get(key).map(String::as_str)
    }

    /// Services (running or not) that mount compose volume `key`.
    pub fn services_using_volume(&self, key: &str) -> Vec<String> {
        self.services.iter().filter(|(_, s)| s.volumes.iter().any(|(k, _)| k == key)).map(|(n, _)| n.clone()).collect()
    }
}

impl Service {
    fn from_json(s: &Value, volumes: &BTreeMap<String, String>) -> Service {
        let str_of = |k: &str| s.get(k).and_then(Value::as_str).map(String::from);
        let replicas =
            s.pointer("/deploy/replicas").and_then(as_u64).or_else(|| s.get("scale").and_then(as_u64)).unwrap_or(1)
                as u32;
        let mut fixed_host_ports = Vec::new();
        for p in s.get("ports").and_then(Value::as_array).into_iter().flatten() {
            match p {
                Value::Object(_) => {
                    if let Some(pubp) = p.get("published").filter(|x| !x.is_null()) {
                        let pubp = pubp.as_str().map(String::from).unwrap_or_else(|| pubp.to_string());
                        if !pubp.is_empty() && pubp != "0" {
                            fixed_host_ports.push(pubp);
                        }
                    }
                }
                Value::String(short) => {
                    // "127.0.0.1:8000:8000/tcp", "8000:8000", "8000" (container only)
                    let parts: Vec<&str> = short.split('/').next().unwrap_or("").rsplitn(3, ':').collect();
                    if parts.len() >= 2 && !parts[1].is_empty() {
                        fixed_host_ports.push(parts[1].to_string());
                    }
                }
                Value::Number(_) => {}
                _ => {}
            }
        }
        let mut mounts = Vec::new();
        for m in s.get("volumes").and_then(Value::as_array).into_iter().flatten() {
            let (kind, source, target) = match m {
                Value::Object(_) => (
                    m.get("type").and_then(Value::as_str).unwrap_or("volume").to_string(),
                    m.get("source").and_then(Value::as_str).unwrap_or("").to_string(),
                    m.get("target").and_then(Value::as_str).unwrap_or("").to_string(),
                ),
                Value::String(short) => {
                    let mut it = short.splitn(3, ':');
                    let a = it.next().unwrap_or("").to_string();
                    let b = it.next().unwrap_or("").to_string();
                    let kind = if a.starts_with('/') || a.starts_with('.') { "bind" } else { "volume" };
                    (kind.to_string(), a, b)
                }
                _ => continue,
            };
            if kind == "volume" && volumes.contains_key(&source) {
                mounts.push((source, target));
            }
        }
        let has_healthcheck = s
            .get("healthcheck")
            .is_some_and(|h| !h.get("disable").and_then(Value::as_bool).unwrap_or(false) && !h.is_null());
        Service {
            image: str_of("image"),
            has_build: s.get("build").is_some_and(|b| !b.is_null()),
            container_name: str_of("container_name"),
            replicas,
            fixed_host_ports,
            has_healthcheck,
            volumes: mounts,
            update_order: s.pointer("/deploy/update_config/order").and_then(Value::as_str).map(String::from),
            profiles: s
                .get("profiles")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
                .unwrap_or_default(),
            depends_on: match s.get("depends_on") {
                Some(Value::Object(m)) => m.keys().cloned().collect(),
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(String::from).collect(),
                _ => Vec::new(),
            },
        }
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_v2_json_model() {
        let v: Value = serde_json::from_str(
            r#"{"services":{"backend":{"image":"b:1","deploy":{"replicas":2},"ports":[{"target":8000,"published":"8000","host_ip":"127.0.0.1"}],
                "volumes":[{"type":"volume","source":"rag","target":"/app/storage"},{"type":"bind","source":"/etc","target":"/x"}],
                "healthcheck":{"test":["CMD","true"]}},
               "worker":{"image":"b:1","healthcheck":{"disable":true}}},
               "volumes":{"rag":{"name":"p_rag"},"ext":{"external":true,"name":"shared"}}}"#,
        )
        .unwrap();
        let m = Model::from_json("p", &v);
        let b = &m.services["backend"];
        assert_eq!(b.replicas, 2);
        assert_eq!(b.fixed_host_ports, ["8000"]);
        assert_eq!(b.volumes, [("rag".to_string(), "/app/storage".to_string())]);
        assert!(b.has_healthcheck);
        assert!(!m.services["worker"].has_healthcheck);
        assert_eq!(m.volume_name("rag"), Some("p_rag"));
        assert_eq!(m.volume_name("ext"), Some("shared"));
        assert_eq!(m.services_using_volume("rag"), ["backend"]);
    }

    #[test]
    fn reads_the_v1_short_forms() {
        let y: serde_yaml::Value = serde_yaml::from_str(
            "services:\n  api:\n    image: a\n    ports: ['127.0.0.1:8000:8000/tcp', '9000']\n    volumes: ['data:/data:rw', './x:/x']\nvolumes:\n  data: {}\n",
        )
        .unwrap();
        let m = Model::from_json("proj", &serde_json::to_value(y).unwrap());
        assert_eq!(m.services["api"].fixed_host_ports, ["8000"]);
        assert_eq!(m.services["api"].volumes, [("data".to_string(), "/data".to_string())]);
        assert_eq!(m.volume_name("data"), Some("proj_data"));
    }
}
