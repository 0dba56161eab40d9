//! Invariants of hash, NAR and diff on generated trees (proptest), and
//! cross-checks against the real Nix: `nix hash path` and `nix-store --dump`.

use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

/// A tree to create on disk.
#[derive(Debug, Clone)]
enum Node {
    File { data: Vec<u8>, exec: bool },
    Link(Vec<u8>),
    Dir(BTreeMap<Vec<u8>, Node>),
}

/// Names over a small alphabet so that siblings often share prefixes and
/// sort by byte (including bytes that are not UTF-8 and a backslash).
fn name() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(&b"ab.-_\\\x80\xff"[..]), 1..5)
        .prop_filter("not . or ..", |n| n != b"." && n != b"..")
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        3 => (prop::collection::vec(any::<u8>(), 0..300), any::<bool>())
            .prop_map(|(data, exec)| Node::File { data, exec }),
        1 => prop::collection::vec(prop::sample::select(&b"ab/.\x80"[..]), 1..8).prop_map(Node::Link),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop::collection::btree_map(name(), inner, 0..5).prop_map(Node::Dir)
    })
}

/// A directory root holding generated entries.
fn tree() -> impl Strategy<Value = Node> {
    prop::collection::btree_map(name(), node(), 0..6).prop_map(Node::Dir)
}

/// Create `node` at `path`, entries in sorted or reversed order.
fn create(node: &Node, path: &Path, reverse: bool) {
    match node {
        Node::File { data, exec } => {
            std::fs::write(path, data).unwrap();
            let mode = if *exec { 0o755 } else { 0o644 };
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        Node::Link(target) => symlink(OsStr::from_bytes(target), path).unwrap(),
        Node::Dir(entries) => {
            std::fs::create_dir(path).unwrap();
            let mut list: Vec<_> = entries.iter().collect();
            if reverse {
                list.reverse();
            }
            for (name, child) in list {
                create(child, &path.join(OsStr::from_bytes(name)), reverse);
            }
        }
    }
}

/// Every node with its path of names from the root.
fn nodes(node: &Node, at: Vec<Vec<u8>>, out: &mut Vec<(Vec<Vec<u8>>, Node)>) {
    out.push((at.clone(), node.clone()));
    if let Node::Dir(entries) = node {
        for (name, child) in entries {
            let mut p = at.clone();
            p.push(name.clone());
            nodes(child, p, out);
        }
    }
}

fn disk_path(root: &Path, names: &[Vec<u8>]) -> std::path::PathBuf {
    names
        .iter()
        .fold(root.to_path_buf(), |p, n| p.join(OsStr::from_bytes(n)))
}

fn manifest_key(names: &[Vec<u8>]) -> String {
    names
        .iter()
        .map(|n| escape_name(n))
        .collect::<Vec<_>>()
        .join("/")
}

/// Apply one change to the tree at `root` and say what diff must report.
fn mutate(root: &Path, names: &[Vec<u8>], node: &Node, choice: u8) -> (String, DiffKind) {
    let path = disk_path(root, names);
    let key = manifest_key(names);
    match node {
        Node::File { data, exec } => match choice % 3 {
            0 => {
                let mut changed = data.clone();
                changed.push(0x5a);
                std::fs::write(&path, changed).unwrap();
                (key, DiffKind::Content)
            }
            1 => {
                let mode = if *exec { 0o644 } else { 0o744 };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
                (key, DiffKind::Executable)
            }
            _ => {
                std::fs::remove_file(&path).unwrap();
                symlink("x", &path).unwrap();
                (key, DiffKind::Type)
            }
        },
        Node::Link(target) => {
            std::fs::remove_file(&path).unwrap();
            if choice.is_multiple_of(2) {
                let mut t = target.clone();
                t.push(b'~');
                symlink(OsStr::from_bytes(&t), &path).unwrap();
                (key, DiffKind::SymlinkTarget)
            } else {
                (key, DiffKind::OnlyInA)
            }
        }
        Node::Dir(_) => {
            // '!' is outside the name alphabet, so this name is new.
            std::fs::write(path.join("new!"), b"").unwrap();
            let key = if key.is_empty() {
                "new!".to_string()
            } else {
                format!("{key}/new!")
            };
            (key, DiffKind::OnlyInB)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn hash_and_nar_ignore_creation_order(t in tree()) {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        create(&t, &a, false);
        create(&t, &b, true);
        let (ha, hb) = hash_pair(&a, &b);
        prop_assert_eq!(ha.unwrap(), hb.unwrap());
        let (mut na, mut nb) = (Vec::new(), Vec::new());
        write_nar(&a, &mut na).unwrap();
        write_nar(&b, &mut nb).unwrap();
        prop_assert_eq!(na, nb);
        prop_assert_eq!(manifest(&a).unwrap(), manifest(&b).unwrap());
    }

    #[test]
    fn diff_of_a_tree_with_itself_is_empty(t in tree()) {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        create(&t, &a, false);
        prop_assert_eq!(diff_trees(&a, &a).unwrap(), vec![]);
        let m = manifest(&a).unwrap();
        prop_assert_eq!(diff_manifests(&m, &m), vec![]);
    }

    #[test]
    fn one_change_changes_hash_and_gives_one_difference(
        t in tree(),
        pick in any::<prop::sample::Index>(),
        choice in any::<u8>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        create(&t, &a, false);
        create(&t, &b, false);
        let mut all = Vec::new();
        nodes(&t, Vec::new(), &mut all);
        let (names, node) = &all[pick.index(all.len())];
        let (key, kind) = mutate(&b, names, node, choice);

        prop_assert_ne!(hash_path(&a).unwrap().sri, hash_path(&b).unwrap().sri);
        let d = diff_trees(&a, &b).unwrap();
        prop_assert_eq!(d.len(), 1, "{:?}", d);
        prop_assert_eq!(&d[0].path, &key);
        prop_assert_eq!(d[0].kind, kind);
        // The fast path of diff_trees agrees with comparing full manifests.
        let mut full = diff_manifests(&manifest(&a).unwrap(), &manifest(&b).unwrap());
        explain_differences(&mut full, &a, &b);
        prop_assert_eq!(&d, &full);
        check_details(&d)?;
    }

    #[test]
    fn diff_trees_equals_diff_of_full_manifests(a in tree(), b in tree()) {
        let tmp = tempfile::tempdir().unwrap();
        let (pa, pb) = (tmp.path().join("a"), tmp.path().join("b"));
        create(&a, &pa, false);
        create(&b, &pb, false);
        let mut full = diff_manifests(&manifest(&pa).unwrap(), &manifest(&pb).unwrap());
        explain_differences(&mut full, &pa, &pb);
        let d = diff_trees(&pa, &pb).unwrap();
        prop_assert_eq!(&d, &full);
        check_details(&d)?;
    }
}

/// Apply change `choice` to the node at `names` of the tree at `root`, if
/// it is still there as generated (an earlier change may have removed it
/// or its parent). Besides [`mutate`], it flips a byte in place, so that
/// content differs at the same size.
fn mutate_if_present(root: &Path, names: &[Vec<u8>], node: &Node, choice: u8) {
    let path = disk_path(root, names);
    let Ok(meta) = std::fs::symlink_metadata(&path) else {
        return;
    };
    let same_kind = match node {
        Node::File { .. } => meta.file_type().is_file(),
        Node::Link(_) => meta.file_type().is_symlink(),
        Node::Dir(_) => meta.file_type().is_dir(),
    };
    if !same_kind || (matches!(node, Node::Dir(_)) && path.join("new!").exists()) {
        return;
    }
    if let Node::File { data, .. } = node
        && choice % 4 == 3
        && !data.is_empty()
    {
        let mut changed = std::fs::read(&path).unwrap();
        if changed.len() == data.len() {
            let at = usize::from(choice) * 7 % changed.len();
            changed[at] ^= 0x10;
            std::fs::write(&path, changed).unwrap();
        }
        return;
    }
    mutate(root, names, node, choice);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The lockstep walk finds what the manifest comparison (the algorithm
    /// before it) finds, explanations included, on pairs of trees that
    /// share most of their paths.
    #[test]
    fn lockstep_diff_equals_manifest_diff_on_related_trees(
        t in tree(),
        changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        a_side in any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        create(&t, &a, false);
        create(&t, &b, true);
        let mut all = Vec::new();
        nodes(&t, Vec::new(), &mut all);
        // Change either tree, so that only_in_a and only_in_b both occur.
        let target = if a_side { &a } else { &b };
        for (pick, choice) in &changes {
            let (names, node) = &all[pick.index(all.len())];
            mutate_if_present(target, names, node, *choice);
        }
        let mut old = diff_manifests(&manifest(&a).unwrap(), &manifest(&b).unwrap());
        explain_differences(&mut old, &a, &b);
        let new = diff_trees(&a, &b).unwrap();
        prop_assert_eq!(&new, &old);
        prop_assert_eq!(new.is_empty(), hash_path(&a).unwrap() == hash_path(&b).unwrap());
        check_details(&new)?;
    }
}

/// Files larger than a comparison chunk: the first difference found by the
/// parallel compare is the first one, the descriptions hash the whole
/// files, and the explanation shows that offset.
#[test]
fn large_files_differ_at_the_first_byte_that_differs() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let chunk = 4usize << 20;
    let data: Vec<u8> = (0..2 * chunk + 5).map(|i| (i * 31 % 251) as u8).collect();
    let mut cases: Vec<(String, Vec<u8>, Option<u64>)> = Vec::new();
    for at in [0, 1, chunk - 1, chunk, 2 * chunk + 4] {
        let mut other = data.clone();
        other[at] ^= 1;
        // A second difference later must not win.
        let late = (at + chunk + 3).min(other.len() - 1);
        if late != at {
            other[late] ^= 1;
        }
        cases.push((format!("at{at}"), other, Some(at as u64)));
    }
    let mut longer = data.clone();
    longer.extend_from_slice(b"tail");
    cases.push(("prefix".into(), longer, Some(data.len() as u64)));
    cases.push(("same".into(), data.clone(), None));
    for (name, other, _) in &cases {
        std::fs::write(a.join(name), &data).unwrap();
        std::fs::write(b.join(name), other).unwrap();
    }
    let d = diff_trees(&a, &b).unwrap();
    let want: Vec<&str> = cases
        .iter()
        .filter(|c| c.2.is_some())
        .map(|c| c.0.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let got: Vec<&str> = d.iter().map(|x| x.path.as_str()).collect();
    assert_eq!(got, want);
    for x in &d {
        let (_, other, first) = cases.iter().find(|c| c.0 == x.path).unwrap();
        let sha = |bytes: &[u8]| {
            use sha2::Digest;
            let h = sha2::Sha256::digest(bytes);
            h.iter()
                .take(6)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        assert_eq!(x.kind, DiffKind::Content);
        assert!(x.a.as_deref().unwrap().contains(&sha(&data)), "{x:?}");
        assert!(x.b.as_deref().unwrap().contains(&sha(other)), "{x:?}");
        match x.detail.as_ref().map(|d| &d.body) {
            Some(explain::Body::Binary(bin)) => assert_eq!(Some(bin.first_difference), *first),
            other => panic!("{}: {other:?}", x.path),
        }
    }
}

/// Every content difference is explained from the files themselves: the
/// keys (escaped names) led back to the right paths.
fn check_details(d: &[Difference]) -> Result<(), TestCaseError> {
    for x in d.iter().filter(|x| x.kind == DiffKind::Content) {
        let detail = x.detail.as_ref();
        prop_assert!(
            detail.is_some_and(|e| !matches!(e.body, explain::Body::Unreadable { .. })),
            "{}: {:?}",
            x.path,
            detail
        );
    }
    prop_assert!(
        d.iter()
            .filter(|x| matches!(x.kind, DiffKind::Type | DiffKind::Executable))
            .all(|x| x.detail.is_none())
    );
    Ok(())
}

// ---- cross-checks against the real Nix ----

/// Whether `tool` can be run. Missing tools fail the test under `CI=true`
/// (CI must have them); elsewhere the test is skipped with a note.
fn require_tool(tool: &str) -> bool {
    // On PATH is enough: running it here would reach for the system's
    // store or daemon, which an ordinary user may not open.
    let ok = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(tool).is_file()));
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is required when CI=true (apt-get install -y nix-bin)"
        );
        eprintln!("note: {tool} not found; skipping the Nix cross-check");
    }
    ok
}

/// A `nix`/`nix-store` command kept away from any store, daemon or user
/// configuration: both only read the given path.
fn nix_cmd(tool: &str, state: &Path) -> Command {
    let mut cmd = Command::new(tool);
    cmd.env("NIX_STATE_DIR", state.join("state"))
        .env("NIX_LOG_DIR", state.join("log"))
        .env("NIX_CONF_DIR", state.join("conf"))
        .env("XDG_CONFIG_HOME", state.join("xdg"))
        .env("NIX_REMOTE", "")
        .env("HOME", state);
    cmd
}

fn nix_hash_path(path: &Path, state: &Path) -> String {
    let out = nix_cmd("nix", state)
        .args([
            "--extra-experimental-features",
            "nix-command",
            "hash",
            "path",
        ])
        .arg(path)
        .output()
        .expect("run nix");
    assert!(
        out.status.success(),
        "nix hash path {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn nix_store_dump(path: &Path, state: &Path) -> Vec<u8> {
    let out = nix_cmd("nix-store", state)
        .arg("--dump")
        .arg(path)
        .output()
        .expect("run nix-store");
    assert!(
        out.status.success(),
        "nix-store --dump {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Assert our hash and NAR equal Nix's for `path`.
fn check_against_nix(path: &Path, state: &Path) {
    let ours = hash_path(path).unwrap();
    assert_eq!(
        ours.sri,
        nix_hash_path(path, state),
        "hash of {}",
        path.display()
    );
    let mut nar = Vec::new();
    write_nar(path, &mut nar).unwrap();
    let theirs = nix_store_dump(path, state);
    assert!(
        nar == theirs,
        "NAR of {} differs from nix-store --dump ({} vs {} bytes)",
        path.display(),
        nar.len(),
        theirs.len()
    );
}

#[test]
fn nix_agrees_on_hand_made_trees() {
    if !require_tool("nix") || !require_tool("nix-store") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("nix-state");
    std::fs::create_dir(&state).unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("share/empty")).unwrap();
    std::fs::create_dir_all(root.join("a/b/c/d")).unwrap();
    std::fs::write(root.join("bin/tool"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(
        root.join("bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    // Group/other execute only: not executable for Nix.
    std::fs::write(root.join("bin/half"), b"x").unwrap();
    std::fs::set_permissions(
        root.join("bin/half"),
        std::fs::Permissions::from_mode(0o615),
    )
    .unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::write(root.join("a/b/c/d/deep"), b"12345678").unwrap();
    let big: Vec<u8> = (0..700_001u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(root.join("big"), &big).unwrap();
    symlink("bin/tool", root.join("link")).unwrap();
    symlink("../nowhere", root.join("dangling")).unwrap();
    std::fs::write(root.join(OsStr::from_bytes(b"latin1-\xe9")), b"caf\xe9").unwrap();
    std::fs::create_dir(root.join(OsStr::from_bytes(b"\xff\xfe-dir"))).unwrap();
    std::fs::write(root.join("B"), b"upper sorts first").unwrap();
    // Deeper than the writer keeps directories open: the rest by path.
    let deep = (0..80).fold(root.join("deep"), |p, i| p.join(format!("{}", i % 3)));
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("leaf"), b"bottom").unwrap();
    symlink("../x", deep.join("up")).unwrap();

    check_against_nix(&root, &state);
    for sub in [
        "bin/tool",
        "bin/half",
        "empty",
        "big",
        "link",
        "dangling",
        "share/empty",
    ] {
        check_against_nix(&root.join(sub), &state);
    }
    check_against_nix(&root.join(OsStr::from_bytes(b"latin1-\xe9")), &state);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn nix_agrees_on_generated_trees(t in tree()) {
        if !require_tool("nix") || !require_tool("nix-store") {
            return Ok(());
        }
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("nix-state");
        std::fs::create_dir(&state).unwrap();
        let root = tmp.path().join("root");
        create(&t, &root, false);
        check_against_nix(&root, &state);
    }
}
