//! Rules on the image a service runs and its user: floating tags (CMP010), no digest
//! (CMP011), root known from the Dockerfile or `user:` (CMP017), root presumed for a
//! pulled image (CMP018). A service with `build:` is judged by its Dockerfile instead
//! of its `image:` name, which only names what the build produces.

use super::Cx;
use crate::scan::compose::Service;
use crate::scan::finding::Finding;
use crate::scan::yaml::Node;
use crate::syntax::imageref::ImageRef;
use crate::syntax::interp;

const UNKNOWN: &str = "\u{1}";

/// `root`, `0`, `root:root`, `0:0`...: the user part is what counts.
pub fn is_root_user(user: &str) -> bool {
    let u = user.trim().split(':').next().unwrap_or("").trim();
    u == "root" || u == "0"
}

pub fn check(cx: &Cx<'_>, svc: &Service<'_>, out: &mut Vec<Finding>) {
    let build = cx.build(svc);
    if build.is_none() {
        if let Some((k, v)) = svc.node.entry("image") {
            pinning(cx, svc, k, v, out);
        }
    }
    if let Some((k, v)) = svc.node.entry("user") {
        if let Some(user) = v.as_str() {
            if is_root_user(&interp::resolve(user).text) && !interp::resolve(user).unknown {
                out.push(cx.at("CMP017", k, svc, format!("service `{}` sets `user: {user}`", svc.name)).key("user"));
            }
            return;
        }
    }
    let Some(b) = build else {
        let image = svc.node.get("image").and_then(Node::as_str).unwrap_or("its image");
        out.push(
            cx.at(
                "CMP018",
                svc.key,
                svc,
                format!("service `{}` sets no `user:`; `{image}` probably runs as root", svc.name),
            )
            .key("user"),
        );
        return;
    };
    let Some(df) = cx.dockerfile(&b) else {
        out.push(
            cx.at(
                "CMP018",
                svc.key,
                svc,
                format!("service `{}` sets no `user:` and its Dockerfile could not be read", svc.name),
            )
            .key("user"),
        );
        return;
    };
    let Some(stage) = df.target(b.target.as_deref()) else { return };
    let what = match df.last(stage, "USER") {
        None => "has no USER instruction".to_string(),
        Some(u) if is_root_user(&u.args) => format!("ends with `USER {}` (line {})", u.args, u.line),
        Some(_) => return,
    };
    let name =
        b.dockerfile.as_ref().and_then(|p| p.file_name()).map_or("inline Dockerfile".into(), |n| n.to_string_lossy());
    out.push(
        cx.at("CMP017", svc.key, svc, format!("service `{}` runs as root: its {name} {what}", svc.name)).key("user"),
    );
}

fn pinning(cx: &Cx<'_>, svc: &Service<'_>, key: &Node, value: &Node, out: &mut Vec<Finding>) {
    let Some(text) = value.as_str() else { return };
    let resolved = interp::resolve_with(text, UNKNOWN).text;
    let r = ImageRef::parse(&resolved);
    let tag_unknown =
        r.tag.as_deref().is_some_and(|t| t.contains(UNKNOWN)) || r.name.contains(UNKNOWN) && r.tag.is_none();
    if tag_unknown {
        return;
    }
    if r.is_floating() {
        let what = match r.tag {
            Some(_) => format!("image `{text}` uses the `latest` tag"),
            None => format!("image `{text}` has no tag (Docker pulls `latest`)"),
        };
        out.push(cx.at("CMP010", key, svc, what).key("image"));
    } else if r.digest.is_none() {
        out.push(cx.at("CMP011", key, svc, format!("image `{text}` is not pinned by digest")).key("image"));
    }
}

#[cfg(test)]
mod tests {
    use crate::scan::rules::testing::scan;

    #[test]
    fn cmp010_and_cmp011_image_pinning() {
        let yaml = "services:\n  a:\n    image: nginx\n  b:\n    image: redis:latest\n  c:\n    image: postgres:16.4\n  d:\n    image: postgres:16.4@sha256:0123\n  e:\n    image: app:${TAG}\n  f:\n    image: app:${TAG:-latest}\n  g:\n    build: .\n    image: mine\n";
        let s = scan(yaml, &[("Dockerfile", "FROM alpine:3.20\nUSER 1000\n")]);
        assert_eq!(s.of("CMP010"), [("a".to_string(), 3), ("b".to_string(), 5), ("f".to_string(), 13)]);
        assert_eq!(s.of("CMP011"), [("c".to_string(), 7)]);
    }

    #[test]
    fn cmp017_root_from_dockerfile_or_user() {
        let yaml = "services:\n  rootless:\n    build: ./ok\n  noUser:\n    build:\n      context: ./bad\n  target:\n    build:\n      context: ./multi\n      target: dev\n  explicit:\n    image: x:1\n    user: \"0:0\"\n  fixed:\n    build: ./bad\n    user: \"1000\"\n";
        let files = [
            ("ok/Dockerfile", "FROM alpine:3.20\nUSER app\n"),
            ("bad/Dockerfile", "FROM alpine:3.20\nRUN true\n"),
            ("multi/Dockerfile", "FROM alpine:3.20 AS dev\nUSER root\nFROM dev AS prod\nUSER app\n"),
        ];
        let s = scan(yaml, &files);
        let got = s.of("CMP017");
        assert_eq!(got, [("noUser".to_string(), 4), ("target".to_string(), 7), ("explicit".to_string(), 13)]);
        assert!(s.messages("CMP017")[1].contains("ends with `USER root` (line 2)"));
    }

    #[test]
    fn cmp018_pulled_image_without_user() {
        let yaml = "services:\n  a:\n    image: redis:7\n  b:\n    image: redis:7\n    user: redis\n";
        assert_eq!(scan(yaml, &[]).of("CMP018"), [("a".to_string(), 2)]);
    }
}
