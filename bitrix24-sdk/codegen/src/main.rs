//! `bitrix24-codegen`: generates the typed request modules of `bitrix24-sdk`
//! (`src/methods.rs` and `src/methods/**`) from the official Bitrix24 method catalogue.
//!
//! ```text
//! cargo run -p bitrix24-codegen -- --spec ../shared/b24-spec --out bitrix24-sdk/src/methods [--check]
//! ```
//!
//! Inputs: the catalogue (`index.json`, `methods/*.json`), `codegen/outputs.toml` (output
//! types and curated inputs, maintained with the models) and `codegen/spec-fixes.toml`
//! (corrections to the catalogue, each with its evidence). The output is formatted with
//! `rustfmt` and fully determined by the inputs. `--check` writes nothing and exits with 1
//! when a file would change, listing the files.

mod catalogue;
mod config;
mod naming;
mod render;
mod types;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const USAGE: &str = "usage: bitrix24-codegen --spec <b24-spec dir> --out <.../src/methods> [--check] \
[--outputs <outputs.toml>] [--fixes <spec-fixes.toml>]";

#[derive(Debug)]
struct Options {
    spec: PathBuf,
    out: PathBuf,
    check: bool,
    outputs: PathBuf,
    fixes: PathBuf,
}

fn parse_args() -> Result<Options, String> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut spec = None;
    let mut out = None;
    let mut check = false;
    let mut outputs = here.join("outputs.toml");
    let mut fixes = here.join("spec-fixes.toml");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--spec" => spec = Some(value("--spec")?),
            "--out" => out = Some(value("--out")?),
            "--outputs" => outputs = value("--outputs")?,
            "--fixes" => fixes = value("--fixes")?,
            "--check" => check = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(Options {
        spec: spec.ok_or_else(|| format!("--spec is required\n{USAGE}"))?,
        out: out.ok_or_else(|| format!("--out is required\n{USAGE}"))?,
        check,
        outputs,
        fixes,
    })
}

/// The nearest `rustfmt.toml` above `dir`, so the output matches `cargo fmt`.
fn rustfmt_config(dir: &Path) -> Option<PathBuf> {
    let start = fs::canonicalize(dir).ok()?;
    start.ancestors().find_map(|d| {
        ["rustfmt.toml", ".rustfmt.toml"]
            .iter()
            .map(|name| d.join(name))
            .find(|path| path.is_file())
    })
}

fn rustfmt(source: &str, config: Option<&Path>, file: &str) -> Result<String, String> {
    let program = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let mut command = Command::new(program);
    command.args(["--edition", "2024", "--emit", "stdout"]);
    if let Some(config) = config {
        command.arg("--config-path").arg(config);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run rustfmt: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(source.as_bytes())
            .map_err(|e| format!("cannot write to rustfmt: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt failed: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt rejected {file}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("rustfmt output for {file}: {e}"))
}

/// Every `.rs` file under `dir`, relative to `base`, with `/` separators.
fn existing_files(dir: &Path, base: &Path, found: &mut BTreeSet<String>) -> Result<(), String> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(format!("cannot list {}: {error}", dir.display())),
    };
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .path();
        if path.is_dir() {
            existing_files(&path, base, found)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path
                .strip_prefix(base)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            found.insert(parts.join("/"));
        }
    }
    Ok(())
}

/// Removes directories left empty under `dir` (after stale files were deleted).
fn remove_empty_dirs(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            remove_empty_dirs(&path);
            // Fails, harmlessly, when the directory is not empty.
            let _ = fs::remove_dir(&path);
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let options = parse_args()?;
    let fixes = config::Fixes::load(&options.fixes)?;
    let outputs = config::Outputs::load(&options.outputs)?;
    let methods = catalogue::load(&options.spec, &fixes)?;
    let (generated, stats) = render::render(&methods, &outputs)?;

    // `--out .../src/methods`: files are relative to `.../src`, the root module is `methods.rs`.
    let base = options
        .out
        .parent()
        .ok_or_else(|| format!("--out {} has no parent directory", options.out.display()))?
        .to_path_buf();
    if options.out.file_name().is_none_or(|n| n != "methods") {
        return Err(format!(
            "--out must be the `methods` directory of the crate, not {}",
            options.out.display()
        ));
    }
    let config = rustfmt_config(&base);
    let mut formatted = BTreeMap::new();
    for (file, source) in &generated {
        formatted.insert(file.clone(), rustfmt(source, config.as_deref(), file)?);
    }

    let mut existing = BTreeSet::new();
    existing_files(&options.out, &base, &mut existing)?;
    if base.join("methods.rs").is_file() {
        existing.insert("methods.rs".to_owned());
    }
    let stale: Vec<&String> = existing
        .iter()
        .filter(|f| !formatted.contains_key(*f))
        .collect();
    let mut changed: Vec<Change<'_>> = Vec::new();
    for (file, text) in &formatted {
        let path = base.join(file);
        let current = fs::read_to_string(&path).ok();
        if current.as_deref() != Some(text.as_str()) {
            changed.push((file, path, text, current.is_none()));
        }
    }

    print_summary(&stats);

    if options.check {
        return Ok(report_check(
            &changed,
            &stale,
            formatted.len(),
            &options.out,
        ));
    }
    write(&base, &options.out, &changed, &stale)?;
    println!(
        "  wrote {} of {} files, removed {} stale",
        changed.len(),
        formatted.len(),
        stale.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// A generated file that differs from the one on disk: (name, path, text, missing on disk).
type Change<'a> = (&'a String, PathBuf, &'a String, bool);

fn print_summary(stats: &render::Stats) {
    println!(
        "bitrix24-codegen: {} methods ({} supplementary), {} list methods, {} idempotent, {} fields, {} typed outputs, {} modules",
        stats.methods,
        stats.supplements,
        stats.lists,
        stats.idempotent,
        stats.fields,
        stats.typed_outputs,
        stats.modules
    );
    let per_scope: Vec<String> = stats
        .per_scope
        .iter()
        .map(|(scope, n)| format!("{scope} {n}"))
        .collect();
    println!("  per scope: {}", per_scope.join(", "));
    println!(
        "  parameter tables that were response tables (dropped): {}",
        stats.response_tables_dropped
    );
    for fallback in &stats.fallbacks {
        println!("  warning: unmapped type {fallback} became serde_json::Value");
    }
    for name in &stats.unused_outputs {
        println!("  warning: outputs.toml names `{name}`, which is not a generated method");
    }
}

fn report_check(changed: &[Change<'_>], stale: &[&String], total: usize, out: &Path) -> ExitCode {
    if changed.is_empty() && stale.is_empty() {
        println!("  {total} files up to date");
        return ExitCode::SUCCESS;
    }
    for (file, _, _, missing) in changed {
        println!(
            "  {} {file}",
            if *missing { "missing:" } else { "differs:" }
        );
    }
    for file in stale {
        println!("  stale:   {file}");
    }
    println!(
        "  generated code is out of date: run `cargo run -p bitrix24-codegen -- --spec <b24-spec> --out {}`",
        out.display()
    );
    ExitCode::from(1)
}

fn write(base: &Path, out: &Path, changed: &[Change<'_>], stale: &[&String]) -> Result<(), String> {
    for (_, path, text, _) in changed {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    for file in stale {
        let path = base.join(file);
        let text = fs::read_to_string(&path).unwrap_or_default();
        if text.starts_with(render::MARKER) {
            fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
        } else {
            println!("  warning: {file} is not generated; left in place");
        }
    }
    remove_empty_dirs(out);
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("bitrix24-codegen: {error}");
            ExitCode::from(2)
        }
    }
}
