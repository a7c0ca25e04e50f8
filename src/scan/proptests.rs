//! Property tests of the scan's readers over arbitrary input: whatever a repository holds,
//! the YAML reader, the compose model, the Dockerfile parser, `.dockerignore` and the
//! `${VAR}` reader return without a panic, and what they return is bounded by what they
//! read. Inputs are drawn from the pieces that matter to each syntax (anchors, quotes,
//! escapes, non-ASCII) as well as from any string at all.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::compose::{Files, Model};
use super::dockerfile::{Dockerfile, pairs, split_words, substitute};
use super::dockerignore::DockerIgnore;
use super::read::Tree;
use super::rules::{self, Cx};
use super::yaml::{self, MAX_NODES};
use crate::syntax::interp;

/// Text made of `pieces`, in any order and number.
fn made_of(pieces: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(pieces), 0..max).prop_map(|v| v.concat())
}

const YAML: &[&str] = &[
    "services:\n",
    "  web:\n",
    "    ",
    "  ",
    "- ",
    "a: ",
    "b: ",
    "&x ",
    "&y ",
    "*x",
    "*y",
    "<<: ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "\n",
    "\"",
    "'",
    "é",
    "日本",
    "!reset ",
    "!!str ",
    "? ",
    "|\n",
    "---\n",
    "#",
    "~",
    "extends: ",
    "env_file: ",
    "build: ",
    "dockerfile: ",
    "file: ",
    "service: web",
    "image: a:1",
    "ports: [\"80:80\"]",
    "privileged: true",
];

const DOCKERFILE: &[&str] = &[
    "FROM ",
    "ENV ",
    "ARG ",
    "USER ",
    "COPY ",
    "ADD ",
    "EXPOSE ",
    "HEALTHCHECK ",
    "RUN ",
    "AS ",
    "--from=",
    "a:1",
    "é",
    "ü",
    "日",
    "\"",
    "'",
    "=",
    " ",
    "\n",
    "\\\n",
    "`\n",
    "# escape=`\n",
    "#",
    "${",
    "$",
    "}",
    ":-",
    "-",
    "<<",
    "<<-",
    "EOF",
    "[\"",
    "\"]",
    ",",
    "root",
    "22",
    "\t",
];

const INTERP: &[&str] = &["$", "$$", "{", "}", "${", ":-", "-", ":?", "?", "A", "_", "é", "x", "日", " ", "1"];

const IGNORE: &[&str] = &["*", "**", "?", "[", "]", "^", "!", "-", "/", "\\", ".", "e", "n", "v", "é", "\n", "#", " "];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn yaml_never_panics_and_never_passes_the_node_budget(text in prop_oneof![made_of(YAML, 80), any::<String>()]) {
        if let Ok(n) = yaml::parse(&text, 0) {
            prop_assert!(n.count() <= MAX_NODES);
        }
    }

    #[test]
    fn yaml_aliases_of_aliases_are_bounded(levels in 1usize..14, width in 1usize..12) {
        let mut text = "a0: &a0 [x]\n".to_string();
        for i in 1..levels {
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); width].join(", ")));
        }
        match yaml::parse(&text, 0) {
            Ok(n) => prop_assert!(n.count() <= MAX_NODES),
            Err(e) => prop_assert!(e.limit, "{e:?}"),
        }
    }

    #[test]
    fn compose_model_and_rules_never_panic(text in made_of(YAML, 80)) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("compose.yaml");
        std::fs::write(&p, &text).unwrap();
        let mut files = Files::new(Tree::under(d.path()));
        if let Ok(model) = Model::load("p", &[p], &mut files) {
            let dockerfiles = BTreeMap::new();
            let _ = rules::compose_findings(&Cx { model: &model, files: &files, dockerfiles: &dockerfiles });
            prop_assert!(model.root.count() <= 2 * MAX_NODES);
        }
    }

    #[test]
    fn dockerfile_parser_and_rules_never_panic(text in prop_oneof![made_of(DOCKERFILE, 120), any::<String>()]) {
        let df = Dockerfile::parse(&text);
        let instructions: Vec<_> = df.global_args.iter().chain(df.stages.iter().flat_map(|s| &s.instructions)).collect();
        // Bounded by the input: no more instructions than lines, no more text than was read.
        prop_assert!(instructions.len() + df.stages.len() <= text.lines().count());
        prop_assert!(instructions.iter().map(|i| i.args.len()).sum::<usize>() <= text.len());
        for ins in &instructions {
            let _ = pairs(&ins.cmd, &ins.args);
            let _ = split_words(&ins.args);
        }
        for target in [None, Some("a"), Some("é")] {
            let _ = rules::dockerfile_findings(std::path::Path::new("Dockerfile"), &df, target, &BTreeMap::new());
        }
        if let Some(s) = substitute(&text, &BTreeMap::new()) {
            prop_assert!(s.len() <= text.len());
        }
    }

    #[test]
    fn env_pairs_split_on_character_boundaries(args in any::<String>()) {
        for cmd in ["ENV", "ARG", "LABEL"] {
            for (k, v) in pairs(cmd, &args) {
                prop_assert!(k.len() + v.map_or(0, |v| v.len()) <= args.len());
            }
        }
    }

    #[test]
    fn interpolation_never_panics_and_never_grows(text in prop_oneof![made_of(INTERP, 60), any::<String>()]) {
        let r = interp::resolve(&text);
        prop_assert!(r.text.len() <= text.len(), "{:?} -> {:?}", text, r.text);
        prop_assert!(interp::references(&text).len() <= text.len() / 2 + 1);
        let _ = interp::is_only_expr(&text);
        let _ = interp::resolve_with(&text, "?");
    }

    #[test]
    fn dockerignore_never_panics(text in prop_oneof![made_of(IGNORE, 60), any::<String>()], path in "[.a-z/é]{0,20}") {
        let d = DockerIgnore::parse(&text);
        let _ = d.excludes(&path);
        let _ = d.excludes(".env.production");
    }
}
