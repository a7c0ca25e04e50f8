//! Image references (`registry:5000/team/app:1.2@sha256:...`), split into name, tag and
//! digest as Docker reads them.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(s: &str) -> ImageRef {
        let s = s.trim();
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (s, None),
        };
        // A `:` after the last `/` starts the tag; one before it is a registry port.
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
            None => (rest, None),
        };
        ImageRef { name: name.to_string(), tag: tag.filter(|t| !t.is_empty()), digest }
    }

    /// No tag and no digest (Docker pulls `latest`), or the `latest` tag itself.
    pub fn is_floating(&self) -> bool {
        self.digest.is_none() && self.tag.as_deref().is_none_or(|t| t == "latest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_registry_port_tag_and_digest() {
        let r = ImageRef::parse("registry:5000/team/app:1.2@sha256:abc");
        assert_eq!(r.name, "registry:5000/team/app");
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        assert_eq!(r.digest.as_deref(), Some("sha256:abc"));
        assert!(!r.is_floating());
        let r = ImageRef::parse("registry:5000/team/app");
        assert_eq!((r.name.as_str(), r.tag.as_deref()), ("registry:5000/team/app", None));
        assert!(r.is_floating());
        assert!(ImageRef::parse("nginx:latest").is_floating());
        assert!(!ImageRef::parse("nginx@sha256:abc").is_floating());
        assert!(!ImageRef::parse("nginx:1.27-alpine").is_floating());
    }
}
