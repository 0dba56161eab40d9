//! TEMPORARY minimal loader until the scenario branch lands.
use super::model::*;
use crate::error::Diagnostic;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(serde::Deserialize)]
struct Raw {
    name: String,
    build: String,
    #[serde(default)]
    path: Option<Vec<String>>,
    #[serde(default)]
    out: Option<String>,
    #[serde(default)]
    timeout: Option<u64>,
    #[serde(default)]
    expect: Option<RawExpect>,
    #[serde(default)]
    vary: Option<Vec<String>>,
    #[serde(default)]
    network: bool,
}
#[derive(serde::Deserialize, Default)]
struct RawExpect {
    #[serde(default = "t")]
    reproducible: bool,
    #[serde(default)]
    which: BTreeMap<String, String>,
    #[serde(default)]
    missing: Vec<String>,
    #[serde(default)]
    run: Vec<RawRun>,
    #[serde(default)]
    path_contains: Vec<String>,
    #[serde(default)]
    path_excludes: Vec<String>,
    #[serde(default)]
    hash: Option<String>,
}
fn t() -> bool {
    true
}
#[derive(serde::Deserialize)]
struct RawRun {
    cmd: String,
    stdout: Option<String>,
    stdout_contains: Option<String>,
    #[serde(default)]
    exit: i32,
}

pub fn load_all(paths: &[PathBuf]) -> Result<Vec<Scenario>, Vec<Diagnostic>> {
    let mut files = vec![];
    for p in paths {
        if p.is_dir() {
            for e in std::fs::read_dir(p).unwrap().flatten() {
                let q = e.path();
                if q.extension().is_some_and(|x| x == "yaml") {
                    files.push(q)
                } else if q.is_dir() {
                    for e in std::fs::read_dir(&q).unwrap().flatten() {
                        if e.path().extension().is_some_and(|x| x == "yaml") {
                            files.push(e.path())
                        }
                    }
                }
            }
        } else {
            files.push(p.clone())
        }
    }
    files.sort();
    let mut out = vec![];
    for f in files {
        let text =
            std::fs::read_to_string(&f).map_err(|e| vec![Diagnostic::new(&f, e.to_string())])?;
        let r: Raw =
            serde_yaml::from_str(&text).map_err(|e| vec![Diagnostic::new(&f, e.to_string())])?;
        let o = r.out.unwrap_or(DEFAULT_OUT.into());
        let x = |s: &String| s.replace("$out", &o);
        let e = r.expect.unwrap_or(RawExpect {
            reproducible: true,
            ..Default::default()
        });
        out.push(Scenario {
            name: r.name,
            description: None,
            dir: std::fs::canonicalize(
                f.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new(".")),
            )
            .unwrap(),
            file: f,
            provider: Provider::Shell,
            build: r.build,
            path: r
                .path
                .unwrap_or(vec!["$out/bin".into()])
                .iter()
                .map(x)
                .collect(),
            timeout: std::time::Duration::from_secs(r.timeout.unwrap_or(600)),
            network: r.network,
            source_date_epoch: DEFAULT_SOURCE_DATE_EPOCH,
            vary: r.vary.map(|v| {
                v.iter()
                    .map(|n| crate::sandbox::variation::Variation::parse(n).unwrap())
                    .collect()
            }),
            expect: Expect {
                reproducible: e.reproducible,
                hash: e.hash,
                which: e.which.iter().map(|(k, v)| (k.clone(), x(v))).collect(),
                missing: e.missing,
                path_contains: e.path_contains.iter().map(x).collect(),
                path_excludes: e.path_excludes.iter().map(x).collect(),
                run: e
                    .run
                    .into_iter()
                    .map(|r| RunExpect {
                        cmd: r.cmd,
                        stdout: r.stdout,
                        stdout_contains: r.stdout_contains,
                        exit: r.exit,
                    })
                    .collect(),
            },
            out: o,
        });
    }
    Ok(out)
}
