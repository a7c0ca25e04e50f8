//! Image references (`registry:5000/team/app:1.2@sha256:...`), split into name, tag and
//! digest as Docker reads them. A reference may still be as written in a compose file:
//! a `:` or `/` inside `${...}` (`app:${TAG:-1.2}`) splits nothing.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry, port and repository: everything before the tag.
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
        let mut depth = 0i32;
        let mut colon = None;
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                '/' if depth == 0 => colon = None,
                ':' if depth == 0 => colon = Some(i),
                _ => {}
            }
        }
        let (name, tag) = match colon {
            Some(i) => (&rest[..i], Some(rest[i + 1..].to_string())),
            None => (rest, None),
        };
        ImageRef { name: name.to_string(), tag: tag.filter(|t| !t.is_empty()), digest }
    }

    /// No tag and no digest (Docker pulls `latest`), or the `latest` tag itself.
    pub fn is_floating(&self) -> bool {
        self.digest.is_none() && self.tag.as_deref().is_none_or(|t| t == "latest")
    }

    /// The tag Docker uses: the one written, else `latest`.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
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
        assert_eq!(r.tag_or_latest(), "latest");
        assert!(r.is_floating());
        assert!(ImageRef::parse("nginx:latest").is_floating());
        assert!(!ImageRef::parse("nginx@sha256:abc").is_floating());
        assert!(!ImageRef::parse("nginx:1.27-alpine").is_floating());
        let r = ImageRef::parse("reg:5000/team/app:v1.2");
        assert_eq!((r.name.as_str(), r.tag_or_latest()), ("reg:5000/team/app", "v1.2"));
    }

    #[test]
    fn interpolations_split_nothing() {
        let r = ImageRef::parse("app:${APP_VERSION:-v1}");
        assert_eq!((r.name.as_str(), r.tag.as_deref()), ("app", Some("${APP_VERSION:-v1}")));
        let r = ImageRef::parse("${REGISTRY:-reg:5000}/app");
        assert_eq!((r.name.as_str(), r.tag), ("${REGISTRY:-reg:5000}/app", None));
    }
}
