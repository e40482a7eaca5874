//! Arbitrary and mutated YAML never panics the loader: every input yields a project and,
//! for broken input, diagnostics.

use proptest::prelude::*;
use template::{LoadError, Loader, Options};

struct OneFile(String);

impl Loader for OneFile {
    fn read(&self, path: &str) -> Result<String, LoadError> {
        if path == "template.yml" {
            Ok(self.0.clone())
        } else {
            Err(LoadError::NotFound(path.to_string()))
        }
    }
    fn exists(&self, _: &str) -> bool {
        false
    }
}

const SEED: &str = include_str!("../data/seed-stack/templates/BranchCollector.yml");
const ROOT: &str = include_str!("../data/seed-stack/template.yml");

fn load(text: String) -> usize {
    let p = template::load("template.yml", &OneFile(text), &Options::default());
    p.diagnostics.len() + p.resource_count()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        load(text);
    }

    #[test]
    fn yaml_shaped_text_never_panics(text in "([A-Za-z:!\\[\\]{}, \\-'\"#&*|>\\n]|  |Ref|Fn::|!Sub|!GetAtt|\\$\\{){0,120}") {
        load(text);
    }

    #[test]
    fn mutated_templates_never_panic(
        which in 0usize..2,
        edits in proptest::collection::vec((0usize..4000, 0usize..12, "[ -~\\n]{0,6}"), 1..6),
    ) {
        let mut text = if which == 0 { SEED.to_string() } else { ROOT.to_string() };
        for (at, del, insert) in edits {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) { at -= 1; }
            let mut end = (at + del).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            text.replace_range(at..end, &insert);
        }
        load(text);
    }
}
