//! Package managers beyond pip, apt and npm: `pipx`, `go install`/`go get`,
//! `gem`, `apk`, `choco`, `nuget`/`dotnet` and `cargo`. Main entry:
//! `command`, called with each command's words, name first.
//!
//! Each rule asks the same question as the pip and apt rules: does the
//! command name one exact version (or a lock file that does), so that a
//! rebuild next year installs the same thing?

use super::requirements::{self, Spec};
use super::scan::Word;
use super::{Context, ShellAudit, basename, is_full_commit};
use crate::audit::{Rule, shorten};

/// Audit one command for the package managers of this file.
pub(super) fn command(words: &[Word], ctx: Context, out: &mut ShellAudit) {
    match basename(&words[0].text) {
        "pipx" => pipx(words, out),
        "go" => go(words, out),
        "gem" => gem(words, out),
        "apk" => apk(words, out),
        "choco" | "cinst" => choco(words, out),
        "nuget" | "nuget.exe" => nuget(words, out),
        "dotnet" => dotnet(words, out),
        "cargo" => cargo(words, ctx, out),
        _ => {}
    }
}

/// Words that are not options, skipping the values of the options in
/// `valued` (matched whole, or as `--opt=value`, which needs no skip).
fn operands<'w>(args: &'w [Word], valued: &[&str]) -> Vec<&'w Word> {
    let mut out = Vec::new();
    let mut k = 0;
    while let Some(w) = args.get(k) {
        let t = w.text.as_str();
        k += 1;
        if t == "--" {
            out.extend(&args[k..]);
            break;
        }
        if t.starts_with('-') && t.len() > 1 {
            if !t.contains('=') && valued.iter().any(|v| v.eq_ignore_ascii_case(t)) {
                k += 1;
            }
            continue;
        }
        out.push(w);
    }
    out
}

/// The value of option `names` (`--opt V` or `--opt=V`), case-insensitive
/// for the Windows tools' `-Version`.
fn value<'w>(args: &'w [Word], names: &[&str]) -> Option<&'w str> {
    for (k, w) in args.iter().enumerate() {
        let t = w.text.as_str();
        for n in names {
            if t.eq_ignore_ascii_case(n) {
                return args.get(k + 1).map(|v| v.text.as_str());
            }
            if let Some((o, v)) = t.split_once('=')
                && o.eq_ignore_ascii_case(n)
            {
                return Some(v);
            }
        }
    }
    None
}

fn has_flag(args: &[Word], names: &[&str]) -> bool {
    args.iter().any(|w| {
        let t = w.text.split('=').next().unwrap_or("");
        names.iter().any(|n| t.eq_ignore_ascii_case(n))
    })
}

/// A path or file in the repository or build tree, or a shell variable:
/// not judged.
fn local(t: &str) -> bool {
    t.starts_with(['.', '/', '~', '$'])
}

/// `1.2.3`, `1.2.3-rc.1`, `v1.2.3+meta`: a whole version, not a range.
fn exact_version(v: &str) -> bool {
    let v = v.strip_prefix('v').unwrap_or(v);
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

// ---------------------------------------------------------------- pipx

fn pipx(words: &[Word], out: &mut ShellAudit) {
    let args = &words[1..];
    let ops = operands(
        args,
        &[
            "--python",
            "--suffix",
            "--pip-args",
            "--index-url",
            "-i",
            "--spec",
        ],
    );
    let Some(sub) = ops.first() else { return };
    let specs: Vec<&Word> = match sub.text.as_str() {
        "install" | "run" => ops.get(1).copied().into_iter().collect(),
        // `pipx inject VENV PKG...`: the venv is a name, not a package.
        "inject" => ops.iter().skip(2).copied().collect(),
        _ => return,
    };
    let spec_opt = value(args, &["--spec"]);
    for w in specs {
        let spec = spec_opt.unwrap_or(&w.text);
        match requirements::classify(spec) {
            Spec::Unpinned => out.hit(
                w,
                Rule::PipxUnpinned,
                format!(
                    "`pipx {} {}` is not pinned to one version: pipx installs the newest \
                     release on the day of the build",
                    sub.text,
                    shorten(spec)
                ),
                format!(
                    "pin it, e.g. `pipx {} {}==<version>`; pipx still resolves its \
                     dependencies afresh, so prefer a venv installed with `pip install \
                     --require-hashes -r`",
                    sub.text,
                    shorten(requirements::name_of(spec))
                ),
            ),
            Spec::Pinned => out.hit(
                w,
                Rule::PipTransitiveUnpinned,
                format!(
                    "`pipx {} {}` pins only that package: its dependencies are resolved \
                     afresh from the index at build time",
                    sub.text,
                    shorten(spec)
                ),
                "install into a venv from a hashed lock instead: `python3 -m venv \"$out\" && \
                 \"$out/bin/pip\" install --require-hashes -r \"$src/requirements.txt\"`"
                    .to_owned(),
            ),
            Spec::Local | Spec::Unknown => {}
        }
        out.fetches.add(false);
    }
}

// ---------------------------------------------------------------- go

/// `@v1.2.3`, a pseudo-version `@v0.0.0-20240101000000-abcdef123456`, or a
/// full commit id: a version that cannot move.
fn go_pinned(version: &str) -> bool {
    // `@v1.4` is a query (the newest v1.4.x), not a version.
    let parts = version
        .split(['-', '+'])
        .next()
        .unwrap_or("")
        .split('.')
        .count();
    is_full_commit(version) || (version.starts_with('v') && parts >= 3 && exact_version(version))
}

fn go(words: &[Word], out: &mut ShellAudit) {
    const VALUED: &[&str] = &[
        "-o",
        "-p",
        "-C",
        "-tags",
        "-ldflags",
        "-gcflags",
        "-asmflags",
        "-mod",
        "-modfile",
        "-pkgdir",
        "-buildmode",
        "-compiler",
        "-gccgoflags",
        "-installsuffix",
        "-overlay",
        "-pgo",
        "-toolexec",
        "-exec",
    ];
    let args = &words[1..];
    let ops = operands(args, VALUED);
    let Some(sub) = ops.first() else { return };
    if !matches!(sub.text.as_str(), "install" | "get") {
        return;
    }
    let get = sub.text == "get";
    let upgrade = get
        && args
            .iter()
            .any(|w| w.text == "-u" || w.text.starts_with("-u="));
    let mut pinned = true;
    for w in &ops[1..] {
        let t = w.text.as_str();
        if local(t) || t == "all" || t == "std" || t == "cmd" {
            continue;
        }
        let (path, version) = t.split_once('@').unwrap_or((t, ""));
        if version == "none" || (go_pinned(version) && !upgrade) {
            continue;
        }
        pinned = false;
        let why = if version.is_empty() {
            "names no version, so it takes whatever the module's go.mod or the proxy's newest \
             release says at build time"
                .to_owned()
        } else if go_pinned(version) {
            "with `-u` also upgrades the module's dependencies to their newest releases".to_owned()
        } else {
            format!("asks for `@{}`, which moves", shorten(version))
        };
        out.hit(
            w,
            Rule::GoUnpinned,
            format!("`go {} {}` {why}", sub.text, shorten(t)),
            format!(
                "pin a full version: `go {} {}@v1.2.3` (or a full commit id), without `-u`",
                sub.text,
                shorten(path)
            ),
        );
    }
    if upgrade && ops.len() == 1 {
        pinned = false;
        out.hit(
            &words[0],
            Rule::GoUnpinned,
            "`go get -u` upgrades every dependency of the module to its newest release at \
             build time"
                .to_owned(),
            "drop `-u`: go.mod and go.sum already pin the dependencies".to_owned(),
        );
    }
    if ops.len() > 1 || upgrade {
        out.fetches.add(pinned);
    }
}

// ---------------------------------------------------------------- gem

fn gem(words: &[Word], out: &mut ShellAudit) {
    const VALUED: &[&str] = &[
        "-v",
        "--version",
        "-i",
        "--install-dir",
        "-n",
        "--bindir",
        "-s",
        "--source",
        "-p",
        "--http-proxy",
        "--platform",
        "-g",
        "--file",
        "--document",
    ];
    let args = &words[1..];
    let ops = operands(args, VALUED);
    let Some(sub) = ops.first() else { return };
    if !matches!(sub.text.as_str(), "install" | "i" | "update") {
        return;
    }
    let version = value(args, &["-v", "--version"]);
    let mut pinned = true;
    for w in &ops[1..] {
        let t = w.text.as_str();
        if local(t) || t.ends_with(".gem") {
            continue;
        }
        // `gem install rake:13.2.1` pins inline.
        let (name, inline) = t.split_once(':').unwrap_or((t, ""));
        let v = if inline.is_empty() {
            version.unwrap_or("")
        } else {
            inline
        };
        let v = v.trim().trim_start_matches('=').trim();
        if sub.text != "update" && exact_version(v) {
            continue;
        }
        pinned = false;
        out.hit(
            w,
            Rule::GemUnpinned,
            if v.is_empty() || sub.text == "update" {
                format!(
                    "`gem {} {}` is not pinned to a version: RubyGems installs the newest \
                     release at build time",
                    sub.text,
                    shorten(t)
                )
            } else {
                format!(
                    "`gem install {}` asks for `{}`, a range",
                    shorten(t),
                    shorten(v)
                )
            },
            format!(
                "pin it: `gem install {} -v <version>`, or install from a Gemfile.lock with \
                 `bundle install --frozen`",
                shorten(name)
            ),
        );
    }
    if ops.len() > 1 {
        out.fetches.add(pinned);
    }
}

// ---------------------------------------------------------------- apk

fn apk(words: &[Word], out: &mut ShellAudit) {
    const VALUED: &[&str] = &[
        "-t",
        "--virtual",
        "-X",
        "--repository",
        "-p",
        "--root",
        "--arch",
        "--cache-dir",
        "--keys-dir",
        "--repositories-file",
    ];
    let args = &words[1..];
    let ops = operands(args, VALUED);
    if ops.first().is_none_or(|w| w.text != "add") {
        return;
    }
    let mut pinned = true;
    for w in &ops[1..] {
        let t = w.text.as_str();
        if local(t) || t.ends_with(".apk") {
            continue;
        }
        // `pkg=1.2.3-r0` pins; `pkg~1.2`, `pkg>1` and a bare name do not.
        if t.split_once('=')
            .is_some_and(|(n, v)| !n.ends_with(['~', '>', '<']) && !v.is_empty())
        {
            continue;
        }
        pinned = false;
        let name = t.split(['=', '~', '>', '<']).next().unwrap_or(t);
        out.hit(
            w,
            Rule::ApkUnpinned,
            format!(
                "`{}` has no `=version`: apk installs whatever the repository has at build time",
                shorten(t)
            ),
            format!(
                "pin the version, e.g. `apk add {}=<version>` (`apk policy {}` lists them)",
                shorten(name),
                shorten(name)
            ),
        );
    }
    if ops.len() > 1 {
        out.fetches.add(pinned);
    }
}

// ---------------------------------------------------------------- choco

fn choco(words: &[Word], out: &mut ShellAudit) {
    const VALUED: &[&str] = &[
        "--version",
        "-s",
        "--source",
        "--params",
        "--package-parameters",
        "--ia",
        "--install-arguments",
        "--checksum",
        "--checksum64",
        "--checksumtype",
        "--timeout",
        "--cache-location",
        "-u",
        "--user",
        "-p",
        "--password",
    ];
    let cinst = basename(&words[0].text) == "cinst";
    let args = &words[1..];
    let ops = operands(args, VALUED);
    let pkgs: &[&Word] = if cinst {
        &ops
    } else {
        match ops.split_first() {
            Some((sub, rest)) if matches!(sub.text.as_str(), "install" | "upgrade") => rest,
            _ => return,
        }
    };
    if pkgs.is_empty() {
        return;
    }
    let version = value(args, &["--version"]).is_some_and(exact_version);
    let checksum = has_flag(
        args,
        &[
            "--requirechecksum",
            "--requirechecksums",
            "--require-checksums",
        ],
    );
    out.fetches.add(version && checksum);
    if version && checksum {
        return;
    }
    let missing = match (version, checksum) {
        (false, false) => "no `--version` and no `--requirechecksum`",
        (false, true) => "no `--version`",
        _ => "no `--requirechecksum`",
    };
    for w in pkgs {
        if local(&w.text) || w.text.ends_with(".nupkg") || w.text.ends_with(".config") {
            continue;
        }
        out.hit(
            w,
            Rule::ChocoUnpinned,
            format!(
                "`choco install {}` has {missing}: the package version, or the installer it \
                 downloads, can change without an edit here",
                shorten(&w.text)
            ),
            format!(
                "pin and check it: `choco install {} --version <version> --requirechecksum`",
                shorten(&w.text)
            ),
        );
    }
}

// ---------------------------------------------------------------- nuget, dotnet

fn nuget(words: &[Word], out: &mut ShellAudit) {
    const VALUED: &[&str] = &[
        "-Version",
        "-OutputDirectory",
        "-Source",
        "-ConfigFile",
        "-PackagesDirectory",
        "-SolutionDirectory",
        "-Framework",
        "-Verbosity",
        "-MSBuildPath",
        "-MSBuildVersion",
        "-FallbackSource",
    ];
    let args = &words[1..];
    let ops = operands(args, VALUED);
    let Some(sub) = ops.first() else { return };
    match sub.text.to_ascii_lowercase().as_str() {
        "install" => {
            let Some(pkg) = ops.get(1) else { return };
            // `nuget install packages.config` restores from the file's versions.
            if local(&pkg.text) || pkg.text.ends_with(".config") {
                return;
            }
            let pinned = value(args, &["-Version"]).is_some_and(exact_version);
            out.fetches.add(pinned);
            if !pinned {
                out.hit(
                    pkg,
                    Rule::NugetUnpinned,
                    format!(
                        "`nuget install {}` names no exact `-Version`: NuGet takes the newest \
                         release at build time",
                        shorten(&pkg.text)
                    ),
                    format!(
                        "pin it: `nuget install {} -Version <version>`",
                        shorten(&pkg.text)
                    ),
                );
            }
        }
        "restore" => restore(&words[0], args, "-LockedMode", out),
        _ => {}
    }
}

fn dotnet(words: &[Word], out: &mut ShellAudit) {
    let args = &words[1..];
    let ops = operands(
        args,
        &[
            "-v",
            "--version",
            "-s",
            "--source",
            "-f",
            "--framework",
            "--package-directory",
            "--packages",
            "--configfile",
            "--verbosity",
            "-r",
            "--runtime",
        ],
    );
    let Some(sub) = ops.first() else { return };
    match sub.text.as_str() {
        // `dotnet add [PROJECT] package NAME`.
        "add" => {
            let Some(k) = ops.iter().position(|w| w.text == "package") else {
                return;
            };
            let Some(pkg) = ops.get(k + 1) else { return };
            let pinned = value(args, &["--version", "-v"]).is_some_and(exact_version);
            out.fetches.add(pinned);
            if !pinned {
                out.hit(
                    pkg,
                    Rule::NugetUnpinned,
                    format!(
                        "`dotnet add package {}` names no exact `--version`: it takes the \
                         newest release at build time",
                        shorten(&pkg.text)
                    ),
                    format!(
                        "pin it: `dotnet add package {} --version <version>`, and restore \
                         with `--locked-mode`",
                        shorten(&pkg.text)
                    ),
                );
            }
        }
        "restore" => restore(&words[0], args, "--locked-mode", out),
        _ => {}
    }
}

/// `restore` without locked mode may resolve floating versions afresh and
/// rewrite packages.lock.json instead of failing; `flag` asks for locked mode.
fn restore(tool: &Word, args: &[Word], flag: &str, out: &mut ShellAudit) {
    let locked = has_flag(args, &[flag]);
    out.fetches.add(locked);
    if !locked {
        out.hit(
            tool,
            Rule::NugetUnpinned,
            format!(
                "`{} restore` without `{flag}` resolves package versions afresh when \
                 packages.lock.json is missing or out of date",
                basename(&tool.text)
            ),
            format!(
                "commit packages.lock.json (`RestorePackagesWithLockFile`) and restore with \
                 `{} restore {flag}`",
                basename(&tool.text)
            ),
        );
    }
}

// ---------------------------------------------------------------- cargo

fn cargo(words: &[Word], ctx: Context, out: &mut ShellAudit) {
    const VALUED: &[&str] = &[
        "--version",
        "--vers",
        "--git",
        "--branch",
        "--tag",
        "--rev",
        "--path",
        "--root",
        "--index",
        "--registry",
        "--target",
        "--target-dir",
        "-F",
        "--features",
        "--profile",
        "-j",
        "--jobs",
        "--bin",
        "--example",
        "--config",
        "-Z",
        "-p",
        "--package",
        "--manifest-path",
        "--color",
        "--message-format",
    ];
    let args = &words[1..];
    // `cargo +nightly build`: the toolchain is not the subcommand.
    let ops: Vec<&Word> = operands(args, VALUED)
        .into_iter()
        .filter(|w| !w.text.starts_with('+'))
        .collect();
    let Some(sub) = ops.first() else { return };
    let locked = has_flag(args, &["--locked", "--frozen"]);
    match sub.text.as_str() {
        "install" => {
            let path = value(args, &["--path"]).is_some();
            let git = value(args, &["--git"]);
            let rev = value(args, &["--rev"]).is_some_and(is_full_commit);
            let version = value(args, &["--version", "--vers"]);
            let crates = &ops[1..];
            let versioned = |w: &Word| {
                let inline = w.text.split_once('@').map(|(_, v)| v);
                inline
                    .or(version)
                    .is_some_and(|v| exact_version(v.trim_start_matches('=')))
            };
            let mut missing = Vec::new();
            if !locked {
                missing.push("no `--locked` (its dependencies are resolved afresh)");
            }
            let source_pinned = path
                || (git.is_some() && rev)
                || (git.is_none() && !crates.is_empty() && crates.iter().all(|w| versioned(w)));
            if !source_pinned {
                missing.push(if git.is_some() {
                    "no `--rev` of a full commit (it builds whatever the branch holds)"
                } else {
                    "no exact version (it takes the newest release)"
                });
            }
            out.fetches.add(missing.is_empty());
            if missing.is_empty() {
                return;
            }
            let at = crates.first().copied().unwrap_or(&words[0]);
            let name = crates
                .first()
                .map(|w| w.text.split('@').next().unwrap_or("").to_owned())
                .unwrap_or_else(|| "CRATE".to_owned());
            out.hit(
                at,
                Rule::CargoInstallUnpinned,
                format!(
                    "`cargo install {}` has {}",
                    shorten(&at.text),
                    missing.join(" and ")
                ),
                format!(
                    "pin both: `cargo install --locked {}@<version>` (or `--git URL --rev \
                     <40-hex commit> --locked`)",
                    shorten(&name)
                ),
            );
        }
        "build" | "b" | "test" | "t" | "run" | "r" | "check" | "c" | "doc" | "d" | "bench"
        | "clippy" | "fetch" | "vendor" | "rustc" | "rustdoc"
            if ctx.cargo_lock =>
        {
            out.fetches.add(locked);
            if !locked {
                out.hit(
                    &words[0],
                    Rule::CargoBuildUnlocked,
                    format!(
                        "`cargo {}` without `--locked` may update Cargo.lock and build other \
                         dependency versions than the ones it records",
                        sub.text
                    ),
                    format!(
                        "add `--locked` (`cargo {} --locked`), or `--frozen` for a build with \
                         vendored sources",
                        sub.text
                    ),
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{found, found_in};
    use super::super::{Context, audit};

    const C40: &str = "9fceb02d0ae598e95dc970b74767f19372d61af8";

    #[test]
    fn pipx_needs_a_version_and_still_floats_dependencies() {
        assert_eq!(found("pipx install black"), [(1, 14, "pipx-unpinned")]);
        assert_eq!(
            found("pipx install --python python3.12 ruff==0.6.9"),
            [(1, 34, "pip-transitive-unpinned")]
        );
        assert_eq!(
            found("pipx inject mytool 'httpx>=0.27'"),
            [(1, 20, "pipx-unpinned")]
        );
        assert_eq!(found("pipx install ./tools/mytool && pipx list"), []);
    }

    #[test]
    fn go_needs_a_full_version_or_commit() {
        assert_eq!(
            found(
                "go install golang.org/x/tools/gopls@latest\n\
                 go install -ldflags '-s -w' honnef.co/go/tools/cmd/staticcheck\n\
                 GOFLAGS=-mod=mod go get example.com/lib@v1.4"
            ),
            [
                (1, 12, "go-unpinned"),
                (2, 29, "go-unpinned"),
                (3, 25, "go-unpinned")
            ]
        );
        for script in [
            "go install golang.org/x/tools/gopls@v0.16.2".to_owned(),
            format!("go install example.com/cmd/tool@{C40}"),
            "go get example.com/lib@v0.0.0-20240102030405-0123456789ab".to_owned(),
            "go install ./cmd/... && go build -o bin/x .".to_owned(),
            "go get example.com/old@none".to_owned(),
        ] {
            assert_eq!(found(&script), [], "{script}");
        }
        assert_eq!(
            found("go get -u example.com/lib@v1.4.0"),
            [(1, 11, "go-unpinned")]
        );
        assert_eq!(found("go get -u"), [(1, 1, "go-unpinned")]);
    }

    #[test]
    fn gem_needs_an_exact_version() {
        assert_eq!(
            found("gem install bundler\ngem install --no-document rails -v '~> 7.1'"),
            [(1, 13, "gem-unpinned"), (2, 27, "gem-unpinned")]
        );
        for script in [
            "gem install bundler -v 2.5.22",
            "gem install --version=2.5.22 bundler",
            "gem install rake:13.2.1 --no-document",
            "gem install ./pkg/mygem-0.1.0.gem",
            "gem list",
        ] {
            assert_eq!(found(script), [], "{script}");
        }
    }

    #[test]
    fn apk_needs_an_exact_version() {
        assert_eq!(
            found("apk add --no-cache -t .build-deps curl=8.9.1-r2 git jq~1.7"),
            [(1, 49, "apk-unpinned"), (1, 53, "apk-unpinned")]
        );
        assert_eq!(
            found(
                "apk add --no-cache --repository https://x.org/main ca-certificates=20240705-r0 ./local.apk"
            ),
            []
        );
        assert_eq!(found("apk update && apk info"), []);
    }

    #[test]
    fn choco_needs_a_version_and_required_checksums() {
        assert_eq!(
            found("choco install -y git\nchoco install nodejs --version 20.17.0"),
            [(1, 18, "choco-unpinned"), (2, 15, "choco-unpinned")]
        );
        assert_eq!(
            found("choco install -y nodejs --version=20.17.0 --requirechecksum"),
            []
        );
        assert_eq!(
            found("cinst 7zip --requirechecksums"),
            [(1, 7, "choco-unpinned")]
        );
    }

    #[test]
    fn nuget_and_dotnet_need_versions_and_locked_restores() {
        assert_eq!(
            found(
                "nuget install Newtonsoft.Json -OutputDirectory packages\n\
                 dotnet add src/App.csproj package Serilog\n\
                 dotnet restore\n\
                 nuget restore App.sln"
            ),
            [
                (1, 15, "nuget-unpinned"),
                (2, 35, "nuget-unpinned"),
                (3, 1, "nuget-unpinned"),
                (4, 1, "nuget-unpinned"),
            ]
        );
        for script in [
            "nuget install Newtonsoft.Json -Version 13.0.3",
            "nuget install packages.config -OutputDirectory packages",
            "dotnet add package Serilog --version 4.0.1",
            "dotnet restore --locked-mode && dotnet build --no-restore",
            "nuget restore App.sln -LockedMode",
        ] {
            assert_eq!(found(script), [], "{script}");
        }
    }

    #[test]
    fn cargo_install_needs_lock_and_version() {
        assert_eq!(
            found(
                "cargo install ripgrep\n\
                 cargo install --locked cargo-nextest\n\
                 cargo install just@1.36.0\n\
                 cargo install --git https://x.org/t.git --locked"
            ),
            [
                (1, 15, "cargo-install-unpinned"),
                (2, 24, "cargo-install-unpinned"),
                (3, 15, "cargo-install-unpinned"),
                (4, 1, "cargo-install-unpinned"),
            ]
        );
        for script in [
            "cargo install --locked just@1.36.0".to_owned(),
            "cargo install --locked --version 0.9.72 cargo-nextest".to_owned(),
            "cargo install --locked --path .".to_owned(),
            format!("cargo install --git https://x.org/t.git --rev {C40} --locked"),
        ] {
            assert_eq!(found(&script), [], "{script}");
        }
        let msg = audit("cargo install ripgrep").hits[0].hit.message.clone();
        assert!(
            msg.contains("`--locked`") && msg.contains("exact version"),
            "{msg}"
        );
    }

    #[test]
    fn cargo_build_needs_locked_only_beside_a_lock_file() {
        let lock = Context { cargo_lock: true };
        assert_eq!(
            found_in(
                "cd \"$src\" && cargo build --release\ncargo +stable test",
                lock
            ),
            [
                (1, 14, "cargo-build-unlocked"),
                (2, 1, "cargo-build-unlocked")
            ]
        );
        assert_eq!(
            found_in(
                "cargo build --release --locked && cargo test --frozen",
                lock
            ),
            []
        );
        assert_eq!(found("cargo build --release"), []);
    }
}
