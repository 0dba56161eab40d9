//! The audit's rules and their metadata, in one table: id, severity, the
//! one-line summary of `envtwin audit --help`, and the help text SARIF
//! readers (GitHub code scanning) show. Adding a rule is a variant of
//! `Rule` and a row of `RULES`; the tests below keep the two in step.

use super::Severity;

/// Declares `Rule` and, for the tests, `Rule::ALL`: every variant, taken
/// from the declaration itself so that the list cannot miss one.
macro_rules! rule_enum {
    ($(#[$meta:meta])* pub enum Rule { $($variant:ident),* $(,)? }) => {
        $(#[$meta])*
        pub enum Rule {
            $($variant,)*
        }

        #[cfg(test)]
        impl Rule {
            /// Every variant, in declaration order.
            pub const ALL: &[Rule] = &[$(Rule::$variant,)*];
        }
    };
}

rule_enum! {
    /// Every rule the audit knows. The ids are stable: CI configurations and
    /// tests refer to them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Rule {
        NixLookupPath,
        NixFetchUnpinned,
        NixFetchgitNoRev,
        NixImpureBuiltin,
        NixPathOutside,
        PipUnpinned,
        PipNoHashes,
        PipRequirementsUnaudited,
        RequirementsUnpinned,
        RequirementsNoHashes,
        DownloadUnchecked,
        AptUnpinned,
        NpmInstall,
        GitCloneUnpinned,
        NetworkUnpinned,
        PipTransitiveUnpinned,
        PipxUnpinned,
        GoUnpinned,
        GemUnpinned,
        ApkUnpinned,
        ChocoUnpinned,
        NugetUnpinned,
        CargoInstallUnpinned,
        CargoBuildUnlocked,
    }
}

/// A rule's metadata.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub rule: Rule,
    /// The stable id printed in findings, e.g. `nix-lookup-path`.
    pub id: &'static str,
    /// Each rule has one severity, so a CI gate can rely on it. Errors are
    /// inputs that change without any edit to the repository; warnings are
    /// inputs pinned by version but not verified by content, or that the
    /// audit cannot see.
    pub severity: Severity,
    /// What it flags, in one line (`envtwin audit --help`, SARIF
    /// `shortDescription`).
    pub summary: &'static str,
    /// Why it matters and how to pin it (SARIF `fullDescription`/`help`).
    pub help: &'static str,
}

/// Every rule, in the order the README and `--help` list them.
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        rule: Rule::NixLookupPath,
        id: "nix-lookup-path",
        severity: Severity::Error,
        summary: "<nixpkgs> or any <...> lookup, resolved from NIX_PATH",
        help: "A `<nixpkgs>` lookup path is whatever channel or checkout NIX_PATH names on the machine that evaluates it, so the environment changes without an edit. Import a fetchTarball of a fixed nixpkgs commit with its sha256, or a path in the repository.",
    },
    RuleInfo {
        rule: Rule::NixFetchUnpinned,
        id: "nix-fetch-unpinned",
        severity: Severity::Error,
        summary: "fetchTarball/fetchurl/fetchzip/fetchgit/... without a hash",
        help: "A fetcher without `sha256`/`hash` downloads whatever the URL serves today. Add the hash (`nix-prefetch-url --unpack URL` prints it); for fetchTree give `narHash` or `rev`.",
    },
    RuleInfo {
        rule: Rule::NixFetchgitNoRev,
        id: "nix-fetchgit-no-rev",
        severity: Severity::Error,
        summary: "builtins.fetchGit without rev",
        help: "builtins.fetchGit without `rev` takes the branch's current head. Give `rev` = the full commit id.",
    },
    RuleInfo {
        rule: Rule::NixImpureBuiltin,
        id: "nix-impure-builtin",
        severity: Severity::Error,
        summary: "builtins.currentTime, builtins.getEnv, builtins.storePath",
        help: "These builtins read the clock, the caller's environment or the local store, so two evaluations of the same file differ. Pass the value in as a pinned argument instead.",
    },
    RuleInfo {
        rule: Rule::NixPathOutside,
        id: "nix-path-outside",
        severity: Severity::Warning,
        summary: "a scenario's nix_path entry outside its directory",
        help: "A nix_path entry outside the scenario's directory is whatever the host has there; the audit cannot see or judge it. Vendor the package set beside the scenario, or pin it by hash.",
    },
    RuleInfo {
        rule: Rule::PipUnpinned,
        id: "pip-unpinned",
        severity: Severity::Error,
        summary: "pip install/download/wheel NAME without ==",
        help: "pip installs the newest release of a name without `==`, so the environment changes with every upload. Pin each name with `==VERSION`, ideally with `--hash` too.",
    },
    RuleInfo {
        rule: Rule::PipNoHashes,
        id: "pip-no-hashes",
        severity: Severity::Warning,
        summary: "pip installing from an index without hashes",
        help: "A version pin does not say which bytes the index serves for it. Use `--require-hashes` with `--hash=sha256:...` per requirement (`pip hash` or `pip-compile --generate-hashes` writes them).",
    },
    RuleInfo {
        rule: Rule::PipRequirementsUnaudited,
        id: "pip-requirements-unaudited",
        severity: Severity::Warning,
        summary: "pip -r FILE the audit cannot read",
        help: "The requirements file is outside the scenario's `$src` (or missing), so the audit cannot see whether it pins. Keep it beside the scenario, or use `--require-hashes`.",
    },
    RuleInfo {
        rule: Rule::RequirementsUnpinned,
        id: "requirements-unpinned",
        severity: Severity::Error,
        summary: "a requirements line without ==",
        help: "A requirements line without `==` (or `===`) takes the newest matching release. Pin it to one version.",
    },
    RuleInfo {
        rule: Rule::RequirementsNoHashes,
        id: "requirements-no-hashes",
        severity: Severity::Warning,
        summary: "a requirements line without --hash",
        help: "Without `--hash=sha256:...` the bytes behind a pinned version are not checked. Add the hashes (`pip-compile --generate-hashes`).",
    },
    RuleInfo {
        rule: Rule::DownloadUnchecked,
        id: "download-unchecked",
        severity: Severity::Error,
        summary: "curl/wget/gsutil/aws s3 output used without sha256sum -c (or similar)",
        help: "A download used without checking its digest is whatever the server sends. Check it with `sha256sum -c` (or sha512sum, b2sum, shasum, or a comparison with a literal digest) before anything uses it.",
    },
    RuleInfo {
        rule: Rule::AptUnpinned,
        id: "apt-unpinned",
        severity: Severity::Error,
        summary: "apt-get/apt install PKG without =version",
        help: "apt installs the archive's current version of a package without `=VERSION`. Pin each package (`apt-get install PKG=VERSION`).",
    },
    RuleInfo {
        rule: Rule::NpmInstall,
        id: "npm-install",
        severity: Severity::Error,
        summary: "npm install/update instead of npm ci",
        help: "`npm install` and `npm update` may change package-lock.json and what is installed. Use `npm ci`, which installs exactly the lock file.",
    },
    RuleInfo {
        rule: Rule::GitCloneUnpinned,
        id: "git-clone-unpinned",
        severity: Severity::Error,
        summary: "git clone without a checkout of a full commit id",
        help: "A clone takes the branch's current head. Check out a full 40-hex commit id after it (or `clone --revision=<commit>`).",
    },
    RuleInfo {
        rule: Rule::NetworkUnpinned,
        id: "network-unpinned",
        severity: Severity::Warning,
        summary: "network: true while none of the downloads is pinned",
        help: "The scenario opens the network but none of its downloads is pinned or recognised. Pin the downloads, or build offline from inputs in the repository. The dynamic check: `envtwin run` records what the builds really fetch and marks each download pinned or not; `expect.fetches: pinned` fails on unpinned ones.",
    },
    RuleInfo {
        rule: Rule::PipTransitiveUnpinned,
        id: "pip-transitive-unpinned",
        severity: Severity::Error,
        summary: "pip install NAME==V leaving its dependencies to float",
        help: "Pinning the named packages leaves their dependencies to whatever the index serves today. Install from a fully pinned requirements file (`pip-compile --generate-hashes`) with `--require-hashes`, or add `--no-deps` and pin every dependency.",
    },
    RuleInfo {
        rule: Rule::PipxUnpinned,
        id: "pipx-unpinned",
        severity: Severity::Error,
        summary: "pipx install/run/inject NAME without ==",
        help: "pipx installs the newest release of a name without `==`. Pin it with `NAME==VERSION`.",
    },
    RuleInfo {
        rule: Rule::GoUnpinned,
        id: "go-unpinned",
        severity: Severity::Error,
        summary: "go install/get without @<full version or commit>, go get -u",
        help: "`go install`/`go get` without `@vX.Y.Z` (or a full commit) resolves `@latest`, and `-u` upgrades. Give an exact version; go.sum pins the bytes.",
    },
    RuleInfo {
        rule: Rule::GemUnpinned,
        id: "gem-unpinned",
        severity: Severity::Error,
        summary: "gem install NAME without -v <exact version>",
        help: "gem installs the newest release without `-v VERSION`. Pin it, or use Bundler with a committed Gemfile.lock (`bundle install --frozen`).",
    },
    RuleInfo {
        rule: Rule::ApkUnpinned,
        id: "apk-unpinned",
        severity: Severity::Error,
        summary: "apk add PKG without =version",
        help: "apk installs the repository's current version without `=VERSION`. Pin each package (`apk add PKG=VERSION`).",
    },
    RuleInfo {
        rule: Rule::ChocoUnpinned,
        id: "choco-unpinned",
        severity: Severity::Error,
        summary: "choco install without --version and --requirechecksum",
        help: "Chocolatey installs the newest package without `--version`, and does not check the download without `--requirechecksum`. Give both.",
    },
    RuleInfo {
        rule: Rule::NugetUnpinned,
        id: "nuget-unpinned",
        severity: Severity::Error,
        summary: "nuget install/dotnet add package without a version; restore unlocked",
        help: "NuGet takes the newest package without a version, and `restore` without `--locked-mode` may change packages.lock.json. Pin versions and restore in locked mode.",
    },
    RuleInfo {
        rule: Rule::CargoInstallUnpinned,
        id: "cargo-install-unpinned",
        severity: Severity::Error,
        summary: "cargo install without --locked or an exact version",
        help: "`cargo install` resolves the newest version and ignores the crate's lock file. Give `--version =X.Y.Z` and `--locked`.",
    },
    RuleInfo {
        rule: Rule::CargoBuildUnlocked,
        id: "cargo-build-unlocked",
        severity: Severity::Error,
        summary: "cargo build/test/run without --locked/--frozen beside a Cargo.lock",
        help: "Without `--locked` cargo may update Cargo.lock when it is out of step and build other versions. Pass `--locked` (or `--frozen` offline).",
    },
];

impl Rule {
    /// This rule's row of [`RULES`].
    pub fn info(self) -> &'static RuleInfo {
        RULES
            .iter()
            .find(|i| i.rule == self)
            .expect("every Rule has a row in RULES (tested)")
    }

    /// The stable id printed in findings.
    pub fn id(self) -> &'static str {
        self.info().id
    }

    /// The rule's one severity.
    pub fn severity(self) -> Severity {
        self.info().severity
    }
}

/// The rule list shown after `envtwin audit --help`.
pub fn rules_help() -> String {
    let width = RULES.iter().map(|r| r.id.len()).max().unwrap_or(0);
    let mut out = String::from("Rules (severity):\n");
    for r in RULES {
        out.push_str(&format!(
            "  {:<width$}  {:<7}  {}\n",
            r.id,
            r.severity.name(),
            r.summary
        ));
    }
    out.push_str(
        "\nExit status: 0 clean (warnings allowed unless --deny warning), 1 findings, 2 bad input.",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_rule_has_one_row_with_a_unique_kebab_case_id() {
        let ids: HashSet<&str> = RULES.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), RULES.len());
        let rules: std::collections::BTreeSet<Rule> = RULES.iter().map(|r| r.rule).collect();
        assert_eq!(rules.len(), RULES.len(), "a rule has two rows");
        for id in ids {
            assert!(
                id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{id}"
            );
        }
        for r in RULES {
            assert_eq!(r.rule.id(), r.id);
            assert!(!r.summary.is_empty() && !r.help.is_empty(), "{}", r.id);
        }
        // `info()` panics for a variant without a row: every variant, not
        // only those RULES names, must have one.
        for &rule in Rule::ALL {
            assert!(
                RULES.iter().any(|r| r.rule == rule),
                "{rule:?} has no row in RULES"
            );
        }
        assert_eq!(Rule::ALL.len(), RULES.len());
    }

    #[test]
    fn the_help_lists_every_rule_with_its_severity() {
        let help = rules_help();
        for r in RULES {
            let line = help
                .lines()
                .find(|l| l.split_whitespace().next() == Some(r.id))
                .unwrap_or_else(|| panic!("{} missing from the help", r.id));
            assert_eq!(line.split_whitespace().nth(1), Some(r.severity.name()));
        }
    }
}
