//! The architecture's invariants, stated as absences and checked from `cargo metadata`:
//! core knows no chat network, a plugin knows no backend, secrets knows nothing of chat.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let out = Command::new(rustc).arg("-vV").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap()
        .to_owned()
}

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            &host_triple(),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Workspace crate → the workspace crates it depends on (normal and build dependencies).
fn workspace_edges(meta: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let members: BTreeSet<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["source"].is_null())
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["source"].is_null())
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .filter(|n| members.contains(n))
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

/// Every package that `root` pulls in through normal dependencies.
fn transitive(meta: &Value, root: &str) -> BTreeSet<String> {
    let nodes = meta["resolve"]["nodes"].as_array().unwrap();
    let by_id: BTreeMap<&str, &Value> = nodes
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let name_of = |id: &str| -> String {
        meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"].as_str() == Some(id))
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let root_id = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some(root) && p["source"].is_null())
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .unwrap();
    let mut seen = BTreeSet::new();
    let mut stack = vec![root_id];
    while let Some(id) = stack.pop() {
        let Some(node) = by_id.get(id.as_str()) else {
            continue;
        };
        for dep in node["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null() || k["kind"].as_str() == Some("build"));
            let dep_id = dep["pkg"].as_str().unwrap().to_owned();
            if normal && seen.insert(dep_id.clone()) {
                stack.push(dep_id);
            }
        }
    }
    seen.iter().map(|id| name_of(id)).collect()
}

fn may_depend_on(from: &str, to: &str) -> bool {
    match from {
        "ferrbot-secrets" => false,
        "ferrbot" => to == "ferrbot-secrets",
        f if f.starts_with("ferrbot-backend-") => to == "ferrbot" || to == "ferrbot-secrets",
        f if f.starts_with("ferrbot-plugin-") => to == "ferrbot",
        "ferrbot-daemon" => to != "ferrbot-tests",
        "ferrbot-tests" => true,
        _ => false,
    }
}

#[test]
fn workspace_crates_depend_only_in_allowed_directions() {
    let meta = metadata();
    let edges = workspace_edges(&meta);
    assert!(edges.contains_key("ferrbot") && edges.contains_key("ferrbot-daemon"));
    let mut forbidden = Vec::new();
    for (from, tos) in &edges {
        for to in tos {
            if !may_depend_on(from, to) {
                forbidden.push(format!("{from} → {to}"));
            }
        }
    }
    assert!(
        forbidden.is_empty(),
        "forbidden dependency edges: {forbidden:?}"
    );
}

#[test]
fn core_knows_no_chat_network() {
    let meta = metadata();
    let pulled = transitive(&meta, "ferrbot");
    for network_crate in ["serenity", "slack-morphism", "matrix-sdk", "ruma"] {
        assert!(
            !pulled.contains(network_crate),
            "the core pulls in {network_crate}; chat networks belong in backends/*"
        );
    }
}

#[test]
fn the_rules_themselves_refuse_what_they_should() {
    assert!(!may_depend_on("ferrbot", "ferrbot-backend-slack"));
    assert!(!may_depend_on(
        "ferrbot-plugin-incident",
        "ferrbot-backend-matrix"
    ));
    assert!(!may_depend_on(
        "ferrbot-plugin-st2",
        "ferrbot-plugin-sentry"
    ));
    assert!(!may_depend_on(
        "ferrbot-backend-slack",
        "ferrbot-plugin-incident"
    ));
    assert!(!may_depend_on("ferrbot-secrets", "ferrbot"));
    assert!(may_depend_on("ferrbot-daemon", "ferrbot-plugin-st2"));
}
