//! envtwin: build each environment scenario twice in isolated, varied
//! sandboxes and judge whether the builds are identical and correct.
//!
//! Data flows one way: `scenario::load` -> `provider::prepare` ->
//! `twin::build` (sandbox, twice) -> `tree` + `probe` per build ->
//! `verdict::judge` -> `report` renderers. `run` below is the glue.

pub mod audit;
pub mod cli;
pub mod error;
pub mod init;
pub mod probe;
pub mod progress;
pub mod provider;
pub mod proxy;
pub mod report;
pub mod sandbox;
pub mod scenario;
pub mod snapshot;
pub mod timeshift;
pub mod tree;
pub mod twin;
pub mod verdict;

use cli::{AuditArgs, Cli, Command, Format, MergeArgs, RunArgs};
use error::{EXIT_FAILED, EXIT_INVALID, EXIT_OK, Error};
use rayon::prelude::*;
use report::{Report, ScenarioReport, Verdict};
use sandbox::variation::Variation;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// Run a parsed command line; returns the process exit status.
pub fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Run(args) => run_scenarios(args),
        Command::Validate { paths } => validate(paths),
        Command::Hash { nar, path } => hash(nar, path),
        Command::Diff { a, b, format } => diff(a, b, format),
        Command::Merge(args) => merge(args),
        Command::Init { dir } => init::run(&dir.unwrap_or_else(|| PathBuf::from("."))),
        Command::Audit(args) => audit::run(audit_options(args)),
        Command::Sandbox { spec } => Ok(sandbox::inside::main(&spec)),
        Command::Probe { request } => Ok(probe::main(&request)),
        Command::Completions { shell } => Ok(completions(shell)),
    };
    sandbox::lifetime::park_if_interrupted();
    match result {
        Ok(code) => code,
        Err(Error::Invalid(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            let n = diags.len();
            eprintln!(
                "envtwin: {n} problem{} in the input; nothing was built",
                if n == 1 { "" } else { "s" }
            );
            EXIT_INVALID
        }
        Err(e) => {
            eprintln!("envtwin: {e}");
            e.exit_code()
        }
    }
}

fn default_paths(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        paths
    }
}

fn parse_vary(names: &[String]) -> Result<BTreeSet<Variation>, Error> {
    let mut set = BTreeSet::new();
    for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        match Variation::parse(n) {
            Ok(v) => {
                set.insert(v);
            }
            Err(hint) => {
                let all: Vec<&str> = Variation::ALL.iter().map(|v| v.name()).collect();
                let hint = hint
                    .map(|h| format!("did you mean `{h}`? "))
                    .unwrap_or_default();
                return Err(Error::Usage(format!(
                    "--vary: unknown variation `{n}`; {hint}known: {}",
                    all.join(", ")
                )));
            }
        }
    }
    Ok(set)
}

fn run_scenarios(args: RunArgs) -> Result<i32, Error> {
    let vary = match (&args.vary, args.no_vary) {
        (_, true) => Some(BTreeSet::new()),
        (Some(v), false) => Some(parse_vary(v)?),
        (None, false) => None,
    };
    let mut scenarios = scenario::load(&default_paths(args.paths)).map_err(Error::Invalid)?;
    if let Some(f) = &args.filter {
        scenarios.retain(|s| s.name.contains(f.as_str()));
    }
    if let Some(part) = &args.partition {
        scenarios.retain(|s| part.contains(&s.name));
    }
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let snapshots = match &args.snapshots {
        None => None,
        Some(dir) => {
            let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
            let existing = snapshot::preload(dir, &names).map_err(Error::Invalid)?;
            if !names.is_empty() {
                snapshot::check_writable(dir).map_err(Error::Harness)?;
            }
            Some(snapshot::Settings {
                dir: dir.clone(),
                accept: args.accept,
                ci,
                existing,
            })
        }
    };
    // Open -o's file before building anything: a bad path is a bad argument
    // (exit 2), not something to discover after minutes of builds.
    let mut output_file = open_output(args.output.as_ref())?;
    sandbox::lifetime::install_handler();
    let workdir = args.workdir.clone().unwrap_or_else(twin::default_workdir);
    check_workdir(&workdir)?;
    let run_dir = sandbox::lifetime::RunDir::create(&workdir).map_err(Error::Harness)?;
    let jobs = args
        .jobs
        .map(|j| j as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    sandbox::slots::set_max(
        args.max_builds
            .map_or_else(sandbox::slots::default_max, |n| n as usize),
    );
    sandbox::limits::sweep_stale_cgroups();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| Error::Harness(format!("cannot start {jobs} worker threads: {e}")))?;
    let opts = twin::TwinOptions {
        vary,
        keep: args.keep,
        // In CI a missing provider must not pass silently as "skipped".
        require_providers: args.require_providers || std::env::var("CI").as_deref() == Ok("true"),
        workdir: workdir.clone(),
        run_dir: run_dir.path().to_path_buf(),
        want_manifest: snapshots.is_some(),
        explain: !args.no_explain,
        proxy: if scenarios.iter().any(|s| s.network.is_on()) {
            Some(std::sync::Arc::new(
                proxy::Proxy::start(args.fetch_cache.clone()).map_err(Error::Harness)?,
            ))
        } else {
            None
        },
    };
    let progress = progress::Progress::start(scenarios.len(), args.format == Format::Human);
    let reports: Vec<ScenarioReport> = pool.install(|| {
        scenarios
            .par_iter()
            .map(|s| {
                let r = one_scenario(s, &opts, snapshots.as_ref());
                progress.done(&r);
                r
            })
            .collect()
    });
    progress.finish();
    let report = Report::new(reports);
    emit(
        &report,
        args.format,
        args.output.as_ref(),
        output_file.as_mut(),
    )?;
    Ok(report.exit_code())
}

/// Create `-o FILE` up front: a path that cannot be written is a bad
/// argument (exit 2), found before any work.
fn open_output(output: Option<&PathBuf>) -> Result<Option<std::fs::File>, Error> {
    output
        .map(|out| {
            std::fs::File::create(out).map_err(|e| {
                Error::Usage(format!(
                    "-o {}: cannot write the report there: {e}",
                    out.display()
                ))
            })
        })
        .transpose()
}

/// Render `report` in `format` to stdout, and to `-o`'s file if given.
fn emit(
    report: &Report,
    format: Format,
    output: Option<&PathBuf>,
    file: Option<&mut std::fs::File>,
) -> Result<(), Error> {
    let mut rendered = Vec::new();
    match format {
        Format::Human => report::human::render(report, &mut rendered),
        Format::Json => report::json::render(report, &mut rendered),
        Format::Junit => report::junit::render(report, &mut rendered),
        Format::Markdown => report::markdown::render(report, &mut rendered),
        Format::Html => report::html::render(report, &mut rendered),
    }
    .map_err(|e| Error::Harness(e.to_string()))?;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&rendered);
    let _ = stdout.flush();
    if let (Some(out), Some(file)) = (output, file) {
        file.write_all(&rendered).map_err(|e| {
            Error::Harness(format!("cannot write the report to {}: {e}", out.display()))
        })?;
    }
    Ok(())
}

/// `envtwin merge`: read the shards' JSON reports, merge, render.
fn merge(args: MergeArgs) -> Result<i32, Error> {
    let mut problems = Vec::new();
    let mut inputs = Vec::new();
    for path in &args.reports {
        match std::fs::read_to_string(path) {
            Ok(text) => inputs.push(report::merge::Input {
                file: path.display().to_string(),
                text,
            }),
            Err(e) => problems.push(error::Diagnostic::new(
                path,
                format!("cannot read the report: {e}"),
            )),
        }
    }
    match report::merge::merge(&inputs) {
        Ok(r) if problems.is_empty() => {
            let mut output_file = open_output(args.output.as_ref())?;
            emit(&r, args.format, args.output.as_ref(), output_file.as_mut())?;
            Ok(r.exit_code())
        }
        merged => {
            problems.extend(merged.err().unwrap_or_default());
            for d in &problems {
                eprintln!("{d}");
            }
            let n = problems.len();
            eprintln!(
                "envtwin merge: {n} problem{} in the reports; nothing was merged",
                if n == 1 { "" } else { "s" }
            );
            Ok(error::EXIT_INVALID)
        }
    }
}

fn audit_options(args: AuditArgs) -> audit::Options {
    audit::Options {
        paths: args.paths,
        format: match args.format {
            cli::AuditFormat::Human => audit::Format::Human,
            cli::AuditFormat::Json => audit::Format::Json,
            cli::AuditFormat::Sarif => audit::Format::Sarif,
        },
        deny: match args.deny {
            cli::DenyLevel::Error => audit::Severity::Error,
            cli::DenyLevel::Warning => audit::Severity::Warning,
        },
    }
}

/// The workdir must not lie where builds can see: in a host path every
/// sandbox shows (the twins would see each other's trees).
fn check_workdir(workdir: &std::path::Path) -> Result<(), Error> {
    let abs = std::path::absolute(workdir).unwrap_or_else(|_| workdir.to_path_buf());
    if let Some(root) = sandbox::plan::host_visible(&abs) {
        return Err(Error::Usage(format!(
            "--workdir {}: it lies in {root}, which every build sees read-only, so the twins \
             could read each other's trees; choose a directory outside /usr, /bin, /sbin, /lib*, /opt and /etc",
            workdir.display()
        )));
    }
    if !abs.is_dir() {
        return Err(Error::Usage(format!(
            "--workdir {}: not a directory; create it or choose another",
            workdir.display()
        )));
    }
    Ok(())
}

fn one_scenario(
    s: &scenario::Scenario,
    opts: &twin::TwinOptions,
    snapshots: Option<&snapshot::Settings>,
) -> ScenarioReport {
    let start = Instant::now();
    let file = s.file.display().to_string();
    let cache = opts.proxy.as_ref().and_then(|p| p.fetch_cache());
    let command = match provider::prepare(s, opts.require_providers, cache.is_some()) {
        provider::Prepared::Ready(c) => c,
        provider::Prepared::Skip(reason) => {
            return ScenarioReport::without_builds(
                &s.name,
                &file,
                s.provider.name(),
                Verdict::Skipped,
                reason,
            );
        }
        provider::Prepared::Fail(reason) => {
            return ScenarioReport::without_builds(
                &s.name,
                &file,
                s.provider.name(),
                Verdict::Fail,
                reason,
            );
        }
    };
    match twin::build(s, &command, opts) {
        Ok(t) => {
            let mut r = verdict::judge(s, &t, start.elapsed().as_millis() as u64);
            if let Some(settings) = snapshots {
                snapshot_check(settings, s, &t, &mut r);
            }
            if let Some(dir) = cache {
                skip_if_offline_and_uncached(s, dir, &mut r);
            }
            r
        }
        Err(e) => {
            let mut r = ScenarioReport::without_builds(
                &s.name,
                &file,
                s.provider.name(),
                Verdict::Error,
                e,
            );
            r.duration_ms = start.elapsed().as_millis() as u64;
            r
        }
    }
}

/// A scenario whose `requires.network` is unreachable ran only because a
/// `--fetch-cache` might hold its downloads. If it did not pass and a
/// download found its upstream unreachable, the machine is offline and the
/// cache incomplete: skipped, as without the cache, naming what was missing.
fn skip_if_offline_and_uncached(
    s: &scenario::Scenario,
    dir: &std::path::Path,
    r: &mut ScenarioReport,
) {
    if r.verdict == Verdict::Pass {
        return;
    }
    let Some(reason) = provider::requires::unmet(s) else {
        return;
    };
    let missing: Vec<&str> = r
        .fetches
        .iter()
        .filter(|f| f.status == 502 && f.problem.is_some())
        .map(|f| f.url.as_str())
        .collect();
    if missing.is_empty() {
        return;
    }
    r.reason = Some(format!(
        "{reason}; the fetch cache {} does not hold {}",
        dir.display(),
        missing.join(", ")
    ));
    r.verdict = Verdict::Skipped;
}

fn completions(shell: cli::Shell) -> i32 {
    use clap::CommandFactory;
    use clap_complete::Shell as S;
    let shell = match shell {
        cli::Shell::Bash => S::Bash,
        cli::Shell::Zsh => S::Zsh,
        cli::Shell::Fish => S::Fish,
        cli::Shell::Elvish => S::Elvish,
        cli::Shell::Powershell => S::PowerShell,
    };
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "envtwin",
        &mut std::io::stdout(),
    );
    EXIT_OK
}

/// Add the snapshot check of build A to a judged scenario. Snapshots record
/// reproducible environments only: a build meant to differ cannot have one.
fn snapshot_check(
    settings: &snapshot::Settings,
    s: &scenario::Scenario,
    t: &twin::TwinOutcome,
    r: &mut ScenarioReport,
) {
    if !s.expect.reproducible {
        return;
    }
    let (Some(hash), Some(probes), Some(files)) = (&t.a.hash, &t.a.probes, &t.a.manifest) else {
        return;
    };
    let body = snapshot::body(&s.name, &hash.sri, probes, files);
    let check = match snapshot::judge(settings, &s.name, &r.file, &body) {
        Ok(check) => check,
        Err(check) => {
            // The harness could not record its result: not a verdict on the scenario.
            r.verdict = Verdict::Error;
            r.reason = Some(check.message.clone());
            check
        }
    };
    if !check.passed && r.verdict == Verdict::Pass {
        r.verdict = Verdict::Fail;
    }
    r.checks.push(check);
}

fn validate(paths: Vec<PathBuf>) -> Result<i32, Error> {
    let scenarios = scenario::load(&default_paths(paths)).map_err(Error::Invalid)?;
    for s in &scenarios {
        println!("ok    {:<24} {}", s.name, s.file.display());
    }
    println!(
        "{} scenario{} valid",
        scenarios.len(),
        if scenarios.len() == 1 { "" } else { "s" }
    );
    Ok(EXIT_OK)
}

fn hash(nar: bool, path: PathBuf) -> Result<i32, Error> {
    if nar {
        let stdout = std::io::stdout();
        let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
        tree::write_nar(&path, &mut w)?;
        w.flush()
            .map_err(|e| Error::Harness(format!("writing the NAR: {e}")))?;
    } else {
        println!("{}", tree::hash_path(&path)?.sri);
    }
    Ok(EXIT_OK)
}

fn diff(a: PathBuf, b: PathBuf, format: cli::DiffFormat) -> Result<i32, Error> {
    let differences = tree::diff_trees(&a, &b)?;
    match format {
        cli::DiffFormat::Html => {
            let mut out = std::io::stdout().lock();
            // A closed pipe is not an error.
            let _ = report::html::render_diff(
                &a.display().to_string(),
                &b.display().to_string(),
                &differences,
                &mut out,
            );
        }
        cli::DiffFormat::Json => {
            let v = serde_json::json!({ "a": a, "b": b, "identical": differences.is_empty(), "differences": differences });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        cli::DiffFormat::Human => {
            let mut out = std::io::stdout().lock();
            for d in &differences {
                // A closed pipe (`envtwin diff … | head`) is not an error.
                if report::human::write_difference(d, 0, &mut out).is_err() {
                    break;
                }
            }
            drop(out);
            if differences.is_empty() {
                println!("identical");
            } else {
                println!(
                    "{} differing path{}",
                    differences.len(),
                    if differences.len() == 1 { "" } else { "s" }
                );
            }
        }
    }
    Ok(if differences.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}
