//! Template cases as data: each folder of `tests/data/cases/` holds a `template.yml` (or
//! `template.json`), any nested templates, an optional `params` file, and `expected.txt`, the
//! rendering of the project (`UPDATE_EXPECT=1 cargo test -p template` rewrites it).

use crate::support::{data, load_dir, render};

fn check(case: &str) {
    let dir = data(&format!("cases/{case}"));
    let root = if dir.join("template.json").exists() {
        "template.json"
    } else {
        "template.yml"
    };
    let project = load_dir(&dir, root);
    let mut out = render(&project);
    // `show` lists resources (`Stack/Id` or `Id`) whose resolved properties the case pins.
    let show = std::fs::read_to_string(dir.join("show")).unwrap_or_default();
    for wanted in show.lines().filter(|l| !l.trim().is_empty()) {
        let found = project
            .resources()
            .find(|(s, r)| s.qualified(&r.logical_id) == wanted.trim());
        let (_, r) = found.unwrap_or_else(|| panic!("case {case}: no resource {wanted}"));
        let props = serde_json::to_string_pretty(&r.properties).expect("json");
        out.push_str(&format!("{wanted} ({}) = {props}\n", r.type_));
    }
    expect_test::expect_file![dir.join("expected.txt")].assert_eq(&out);
}

/// Every folder is a case; a folder without `expected.txt` fails until it is written.
#[test]
fn all_cases() {
    let mut names: Vec<String> = std::fs::read_dir(data("cases"))
        .expect("cases folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names.len() >= 10,
        "expected the case folders, found {names:?}"
    );
    for name in names {
        check(&name);
    }
}
