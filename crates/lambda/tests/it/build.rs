//! Building `rust-cargolambda` functions: built once, skipped while up to date, rebuilt after a
//! change; the result is a runnable `bootstrap`.

use std::path::Path;

use lambda::build::{build_functions, BuildError, BuildStatus, BuildTarget};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn package(dir: &Path, greeting: &str) {
    write(
        &dir.join("Cargo.toml"),
        "[package]\nname = \"hello-fn\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    write(
        &dir.join("src/main.rs"),
        &format!("fn main() {{ println!(\"{greeting}\"); }}\n"),
    );
}

/// Builds the one Rust function `logical_id` of the package `code` in `project`.
fn build_one(project: &Path, logical_id: &str, code: &Path) -> BuildStatus {
    let target = BuildTarget {
        logical_id: logical_id.into(),
        code_dir: code.to_path_buf(),
        build_method: Some("rust-cargolambda".into()),
    };
    build_functions(project, &[target], false).unwrap()[0]
        .status
        .clone()
}

fn run(bootstrap: &Path) -> String {
    let out = std::process::Command::new(bootstrap).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn functions_are_built_once_and_again_after_a_change() {
    let project = tempfile::tempdir().unwrap();
    let code = project.path().join("functions/hello");
    package(&code, "hello");
    let targets = [
        BuildTarget {
            logical_id: "Hello".into(),
            code_dir: code.clone(),
            build_method: Some("rust-cargolambda".into()),
        },
        BuildTarget {
            logical_id: "Prebuilt".into(),
            code_dir: project.path().join("prebuilt"),
            build_method: None,
        },
    ];
    let first = build_functions(project.path(), &targets, false).unwrap();
    let bootstrap = project.path().join(".cascade/build/Hello/bootstrap");
    assert_eq!(first[0].bootstrap, bootstrap);
    assert_eq!(first[0].status, BuildStatus::Built);
    assert_eq!(first[1].status, BuildStatus::NotBuilt);
    assert_eq!(
        first[1].bootstrap,
        project.path().join("prebuilt/bootstrap")
    );
    assert_eq!(run(&bootstrap), "hello\n");

    let second = build_functions(project.path(), &targets, false).unwrap();
    assert_eq!(second[0].status, BuildStatus::UpToDate);

    // File times have a coarse grain on some file systems: date the change visibly later.
    package(&code, "hello again");
    let file = std::fs::File::options()
        .write(true)
        .open(code.join("src/main.rs"))
        .unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(2))
        .unwrap();
    let third = build_functions(project.path(), &targets, false).unwrap();
    assert_eq!(third[0].status, BuildStatus::Built);
    assert_eq!(run(&bootstrap), "hello again\n");
}

#[test]
fn a_change_in_a_path_dependency_rebuilds_the_function() {
    let project = tempfile::tempdir().unwrap();
    let library = |name: &str, text: &str| {
        let dir = project.path().join(name);
        write(
            &dir.join("Cargo.toml"),
            &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
        );
        write(&dir.join("src/lib.rs"), text);
        dir.join("src/lib.rs")
    };
    let shared = library("shared", "pub const WORD: &str = \"one\";\n");
    // A dev-dependency is not in the binary: a change in it rebuilds nothing.
    let testing = library("testing", "");
    let code = project.path().join("functions/uses-shared");
    write(
        &code.join("Cargo.toml"),
        "[package]\nname = \"uses-shared\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nshared = { path = \"../../shared\" }\n\n[dev-dependencies]\ntesting = { path = \"../../testing\" }\n\n[workspace]\n",
    );
    write(
        &code.join("src/main.rs"),
        "fn main() { println!(\"{}\", shared::WORD); }\n",
    );
    let bootstrap = project.path().join(".cascade/build/UsesShared/bootstrap");
    let status = || build_one(project.path(), "UsesShared", &code);
    assert_eq!(status(), BuildStatus::Built);
    assert_eq!(run(&bootstrap), "one\n");
    assert_eq!(status(), BuildStatus::UpToDate);
    later(&testing);
    assert_eq!(status(), BuildStatus::UpToDate);

    write(&shared, "pub const WORD: &str = \"two\";\n");
    later(&shared);
    assert_eq!(status(), BuildStatus::Built);
    assert_eq!(run(&bootstrap), "two\n");
}

#[test]
fn a_change_in_the_workspace_manifest_rebuilds_a_member() {
    let project = tempfile::tempdir().unwrap();
    let root = project.path().join("Cargo.toml");
    write(&root, "[workspace]\nmembers = [\"functions/*\"]\n");
    let code = project.path().join("functions/member");
    write(
        &code.join("Cargo.toml"),
        "[package]\nname = \"member\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(
        &code.join("src/main.rs"),
        "fn main() { println!(\"member\"); }\n",
    );
    let status = || build_one(project.path(), "Member", &code);
    assert_eq!(status(), BuildStatus::Built);
    assert_eq!(status(), BuildStatus::UpToDate);
    // Profiles and shared dependencies' features live in the root manifest only.
    write(
        &root,
        "[workspace]\nmembers = [\"functions/*\"]\n\n[profile.release]\nopt-level = 2\n",
    );
    later(&root);
    assert_eq!(status(), BuildStatus::Built);
}

/// Dates a file visibly later than anything built before (file times can be coarse).
fn later(path: &Path) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(2))
        .unwrap();
}

#[test]
fn a_code_uri_without_a_cargo_package_is_an_error() {
    let project = tempfile::tempdir().unwrap();
    let targets = [BuildTarget {
        logical_id: "Missing".into(),
        code_dir: project.path().join("nothing"),
        build_method: Some("rust-cargolambda".into()),
    }];
    let err = build_functions(project.path(), &targets, false).unwrap_err();
    assert!(
        matches!(err, BuildError::NoManifest { ref logical_id, .. } if logical_id == "Missing")
    );
    assert!(err.to_string().contains("has no Cargo.toml"), "{err}");
}
