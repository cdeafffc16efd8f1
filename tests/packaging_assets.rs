//! The Debian package recipe (`[package.metadata.deb]` in Cargo.toml)
//! names files that exist: sources in the repository, and the man pages and
//! completions that `spate generate` writes (what packaging/build-deb.sh
//! runs). Building the package itself takes a release build, so that is
//! packaging/test-deb.sh's job; this catches a renamed file in seconds.

use std::path::{Path, PathBuf};
use std::process::Command;

const GENERATED: &str = "target/deb-assets/";

fn manifest() -> toml::Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

fn deb_metadata() -> toml::Table {
    let m = manifest();
    m["package"]["metadata"]["deb"]
        .as_table()
        .expect("[package.metadata.deb]")
        .clone()
}

/// `spate generate` output in a temp dir laid out like target/deb-assets.
fn generate(dir: &Path) {
    let run = |args: &[&str]| {
        let st = Command::new(env!("CARGO_BIN_EXE_spate"))
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "spate {args:?}");
    };
    let man = dir.join("man");
    run(&["generate", "man", "--dir", man.to_str().unwrap()]);
    let comp = dir.join("completions");
    for shell in ["bash", "zsh", "fish"] {
        run(&[
            "generate",
            "completions",
            shell,
            "--dir",
            comp.to_str().unwrap(),
        ]);
    }
}

/// Files matching `pattern` (only a `*` in the last component).
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let name = pattern.file_name().unwrap().to_str().unwrap();
    let dir = pattern.parent().unwrap();
    match name.split_once('*') {
        None => pattern
            .exists()
            .then(|| pattern.to_owned())
            .into_iter()
            .collect(),
        Some((pre, post)) => std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        let n = p.file_name().unwrap().to_str().unwrap();
                        n.starts_with(pre) && n.ends_with(post) && n.len() >= pre.len() + post.len()
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[test]
fn every_package_asset_exists_or_is_generated() {
    let gen = tempfile::tempdir().unwrap();
    generate(gen.path());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let meta = deb_metadata();
    let assets = meta["assets"].as_array().expect("assets");
    let mut dests = Vec::new();
    for a in assets {
        let a = a.as_array().expect("[source, dest, mode]");
        let (src, dest) = (a[0].as_str().unwrap(), a[1].as_str().unwrap());
        dests.push(dest.to_owned());
        if src.starts_with("target/release/") {
            continue; // built by cargo deb itself
        }
        let path = match src.strip_prefix(GENERATED) {
            Some(rest) => gen.path().join(rest),
            None => root.join(src),
        };
        assert!(
            !glob(&path).is_empty(),
            "package asset {src} matches no file"
        );
    }
    for want in [
        "usr/bin/",
        "etc/spate/spate.toml",
        "usr/share/man/man1/",
        "usr/share/bash-completion/completions/spate",
        "usr/share/zsh/vendor-completions/_spate",
        "usr/share/fish/vendor_completions.d/spate.fish",
    ] {
        assert!(
            dests.iter().any(|d| d == want),
            "nothing installed to {want}"
        );
    }
}

#[test]
fn units_and_scripts_are_where_the_recipe_points() {
    let meta = deb_metadata();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let units = meta["systemd-units"].as_table().expect("systemd-units");
    assert_eq!(
        units["enable"].as_bool(),
        Some(false),
        "installing must not enable the service"
    );
    assert_eq!(
        units["start"].as_bool(),
        Some(false),
        "installing must not start the service"
    );
    let dir = root.join(units["unit-scripts"].as_str().unwrap());
    assert!(dir.join("spate.service").is_file());
    let scripts = root.join(meta["maintainer-scripts"].as_str().unwrap());
    let postinst = std::fs::read_to_string(scripts.join("postinst")).unwrap();
    assert!(
        postinst.contains("adduser --system"),
        "postinst creates the user"
    );
    assert!(
        postinst.contains("#DEBHELPER#"),
        "postinst keeps the systemd snippets' slot"
    );
    assert!(
        !postinst.contains("systemctl"),
        "postinst leaves the service alone"
    );
    assert!(meta["depends"].as_str().unwrap().contains("adduser"));
}

#[test]
fn unit_documentation_names_generated_man_pages() {
    let gen = tempfile::tempdir().unwrap();
    generate(gen.path());
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/systemd/spate.service"),
    )
    .unwrap();
    let docs = unit
        .lines()
        .find_map(|l| l.strip_prefix("Documentation="))
        .expect("Documentation=");
    for page in docs.split_whitespace() {
        let name = page.trim_start_matches("man:").replace("(1)", ".1");
        assert!(
            gen.path().join("man").join(&name).is_file(),
            "{page} is not generated"
        );
    }
}
