//! The packaged templates of the shipped sales stacks and of the published seed stacks: every
//! `CodeUri` and `TemplateURL` points at S3, and everything else is unchanged once parsed.

use serde_json::{json, Value};
use ship::package::{rewrite_tree, Location, Object, What};
use ship::rewrite::{self, SiteKind};
use std::path::{Path, PathBuf};
use template::node::{Node, NodeKind};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A template as plain JSON, positions dropped.
fn plain(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Null => Value::Null,
        NodeKind::Bool(b) => json!(b),
        NodeKind::Int(i) => json!(i),
        NodeKind::Float(f) => json!(f),
        NodeKind::Str(s) => json!(s),
        NodeKind::Seq(items) => Value::Array(items.iter().map(plain).collect()),
        NodeKind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), plain(v)))
                .collect(),
        ),
    }
}

fn site_path(site: &rewrite::Site) -> Vec<String> {
    let property = match site.kind {
        SiteKind::CodeUri => "CodeUri",
        SiteKind::Code => "Code",
        SiteKind::TemplateUrl => "TemplateURL",
    };
    if site.logical_id == "Globals" {
        vec!["Globals".into(), "Function".into(), property.into()]
    } else {
        vec![
            "Resources".into(),
            site.logical_id.clone(),
            "Properties".into(),
            property.into(),
        ]
    }
}

fn at<'a>(value: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(value, |v, k| &mut v[k.as_str()])
}

/// Packages the project at `dir` with fake function keys and returns one line per rewritten
/// place, after checking that nothing else changed.
fn check_packaged(dir: &Path) -> String {
    let read = |rel: &str| {
        let path = dir.join(rel);
        std::fs::read_to_string(&path).map_err(|source| ship::ShipError::Read { path, source })
    };
    let location = Location {
        bucket: "artifacts".into(),
        prefix: "repo/main/prod".into(),
        region: "us-east-1".into(),
    };
    let mut code = |_file: &str, _site: &rewrite::Site, dir: &str| {
        Ok(format!("repo/main/prod/{}.zip", dir.replace('/', "_")))
    };
    let (root_text, objects) = rewrite_tree("template.yml", &read, &mut code, &location).unwrap();
    let mut files: Vec<(String, String)> = vec![("template.yml".into(), root_text)];
    for Object { what, bytes, .. } in &objects {
        let What::Template { file } = what else {
            panic!("{what:?}")
        };
        files.push((file.clone(), String::from_utf8(bytes.clone()).unwrap()));
    }
    files.sort();
    let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    let mut report = String::new();
    for (file, packaged) in &files {
        let original = read(file).unwrap();
        let before = rewrite::parse(file, &original).unwrap();
        let after = rewrite::parse(file, packaged).unwrap();
        assert!(
            rewrite::sites(&after).is_empty(),
            "{file}: a local path is left"
        );
        let (mut before_json, mut after_json) = (plain(&before), plain(&after));
        for site in rewrite::sites(&before) {
            let path = site_path(&site);
            let new = at(&mut after_json, &path).clone();
            let new_text = new.as_str().unwrap_or_default().to_string();
            match site.kind {
                SiteKind::TemplateUrl => {
                    let key = new_text
                        .strip_prefix("https://s3.us-east-1.amazonaws.com/artifacts/")
                        .unwrap_or_else(|| panic!("{file}: {new_text}"));
                    assert!(keys.contains(&key), "{file}: {key} is not uploaded");
                }
                _ => assert!(
                    new_text.starts_with("s3://artifacts/repo/main/prod/"),
                    "{new_text}"
                ),
            }
            report.push_str(&format!("{file}: {} {}\n", site.logical_id, site.path));
            *at(&mut before_json, &path) = json!("<packaged>");
            *at(&mut after_json, &path) = json!("<packaged>");
        }
        assert_eq!(
            before_json, after_json,
            "{file}: more than the locations changed"
        );
        // Comments and layout survive: the texts differ only on the rewritten lines.
        let changed = original
            .lines()
            .zip(packaged.lines())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(changed, rewrite::sites(&before).len(), "{file}");
        assert_eq!(original.lines().count(), packaged.lines().count(), "{file}");
    }
    report
}

#[test]
fn shipped_sales_stacks_point_at_s3_and_nothing_else_changes() {
    expect_test::expect![[r#"
        template.yml: IAM ./templates/iam.yml
        template.yml: Alerts ./templates/alerts.yml
        template.yml: Tables ./templates/tables.yml
        template.yml: Queues ./templates/queues.yml
        template.yml: BranchCollector ./templates/BranchCollector.yml
        template.yml: SalespersonCollector ./templates/SalespersonCollector.yml
        template.yml: SaleCollector ./templates/SaleCollector.yml
        templates/BranchCollector.yml: BranchCollector ../crates/branch-collector/
        templates/SaleCollector.yml: SaleCollector ../crates/sale-collector/
        templates/SalespersonCollector.yml: SalespersonCollector ../crates/salesperson-collector/
    "#]]
    .assert_eq(&check_packaged(&workspace()));
}

#[test]
fn published_seed_stacks_point_at_s3_and_nothing_else_changes() {
    expect_test::expect![[r#"
        template.yml: IAM ./templates/iam.yml
        template.yml: BranchCollector ./templates/BranchCollector.yml
        template.yml: SalespersonCollector ./templates/SalespersonCollector.yml
        template.yml: SaleCollector ./templates/SaleCollector.yml
        template.yml: Tables ./templates/tables.yml
        template.yml: Queues ./templates/queues.yml
        templates/BranchCollector.yml: BranchCollector ./../branches/
        templates/SaleCollector.yml: SaleCollector ./../sales/
        templates/SalespersonCollector.yml: SalespersonCollector ./../salespersons/
    "#]]
    .assert_eq(&check_packaged(
        &workspace().join("crates/template/tests/data/seed-stack"),
    ));
}
