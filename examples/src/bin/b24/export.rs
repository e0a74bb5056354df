//! `b24 export METHOD [--filter …] [--select …] --format ndjson|csv|json [--output FILE]
//! [--resume CHECKPOINT]`: every row once, as fast as the portal allows.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bitrix24::ExportCheckpoint;
use clap::ValueEnum;
use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::connect::Connection;
use crate::params::parse_pairs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON array.
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// The list method, such as crm.lead.list, crm.item.list or tasks.task.list.
    method: String,
    /// Filter conditions as `key=value` with the portal's prefixes: `STATUS_ID=NEW`, `>OPPORTUNITY=1000`.
    #[arg(long = "filter")]
    filter: Vec<String>,
    /// A field to export (repeatable); the portal's field names, such as ID or TITLE.
    #[arg(long = "select")]
    select: Vec<String>,
    /// Other parameters of the method, `key=value` (e.g. `entityTypeId=2`).
    #[arg(long = "param")]
    params: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Ndjson)]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Keep progress in this file, resume from it if it exists, remove it when done
    /// (ndjson and csv output only).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Id ranges exported at once.
    #[arg(long, default_value_t = 4)]
    shards: usize,
    #[command(flatten)]
    connection: Connection,
}

/// Where rows go, in the chosen format.
struct Sink {
    out: Box<dyn Write>,
    format: Format,
    columns: Option<Vec<String>>,
    rows: u64,
}

impl Sink {
    fn write(&mut self, row: &Value) -> std::io::Result<()> {
        match self.format {
            Format::Ndjson => writeln!(self.out, "{row}"),
            Format::Json => {
                let separator = if self.rows == 0 { "[\n" } else { ",\n" };
                write!(self.out, "{separator}{row}")
            }
            Format::Csv => {
                if self.columns.is_none() {
                    let columns: Vec<String> = row
                        .as_object()
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default();
                    writeln!(
                        self.out,
                        "{}",
                        columns
                            .iter()
                            .map(|c| csv_cell(c))
                            .collect::<Vec<_>>()
                            .join(",")
                    )?;
                    self.columns = Some(columns);
                }
                let columns = self.columns.as_deref().unwrap_or_default();
                let cells: Vec<String> = columns
                    .iter()
                    .map(|column| match row.get(column) {
                        None | Some(Value::Null) => String::new(),
                        Some(Value::String(s)) => csv_cell(s),
                        Some(other) => csv_cell(&other.to_string()),
                    })
                    .collect();
                writeln!(self.out, "{}", cells.join(","))
            }
        }?;
        self.rows += 1;
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if self.format == Format::Json {
            writeln!(self.out, "{}]", if self.rows == 0 { "[" } else { "\n" })?;
        }
        self.out.flush()
    }
}

/// A CSV cell, quoted when it holds a comma, a quote or a line break.
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Writes the checkpoint atomically, so a crash never leaves half a file.
fn save_checkpoint(path: &Path, checkpoint: &ExportCheckpoint) -> Result<(), String> {
    let text = serde_json::to_string(checkpoint).map_err(|e| e.to_string())?;
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
    std::fs::rename(&temp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Where the rows of a method are and which field is the id, for the methods whose rows are
/// wrapped or keyed differently.
fn shape(method: &str) -> (Option<&'static str>, &'static str) {
    match method {
        "crm.item.list" => (Some("items"), "id"),
        "tasks.task.list" => (Some("tasks"), "ID"),
        _ => (None, "ID"),
    }
}

/// The list parameters from `--filter`, `--select` and `key=value` pairs, after checking the
/// flags go together.
fn list_params(args: &ExportArgs) -> Result<serde_json::Map<String, Value>, String> {
    if args.resume.is_some() && args.format == Format::Json {
        return Err(
            "--resume works with --format ndjson or csv (a JSON array cannot be appended to)"
                .to_owned(),
        );
    }
    if args.resume.is_some() && args.format == Format::Csv && args.select.is_empty() {
        return Err(
            "--resume with --format csv needs --select, so the columns stay the same".to_owned(),
        );
    }
    let mut params = parse_pairs(&args.params)?;
    let filter = parse_pairs(&args.filter)?;
    if !filter.is_empty() {
        params.insert("filter".into(), Value::Object(filter));
    }
    if !args.select.is_empty() {
        params.insert("select".into(), Value::from(args.select.clone()));
    }
    Ok(params)
}

/// The checkpoint to resume from, when `--resume` names a file that exists.
fn load_checkpoint(args: &ExportArgs) -> Result<Option<ExportCheckpoint>, String> {
    match &args.resume {
        Some(path) if path.exists() => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str(&text)
                .map(Some)
                .map_err(|_| format!("{} is not an export checkpoint", path.display()))
        }
        _ => Ok(None),
    }
}

/// Where rows go: `--output` (appended to when resuming) or standard output, with the CSV
/// header written first when the columns are known.
fn open_sink(args: &ExportArgs, resuming: bool) -> Result<Sink, String> {
    let out: Box<dyn Write> = match &args.output {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(resuming)
                .truncate(!resuming)
                .open(path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            Box::new(std::io::BufWriter::new(file))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let mut sink = Sink {
        out,
        format: args.format,
        columns: None,
        rows: 0,
    };
    if args.format == Format::Csv && !args.select.is_empty() {
        sink.columns = Some(args.select.clone());
        // A resumed CSV already has its header.
        if !resuming {
            let header: Vec<String> = args.select.iter().map(|c| csv_cell(c)).collect();
            writeln!(sink.out, "{}", header.join(",")).map_err(|e| format!("cannot write: {e}"))?;
        }
    }
    Ok(sink)
}

pub(crate) async fn export(args: ExportArgs) -> Result<(), String> {
    let params = list_params(&args)?;
    let checkpoint = load_checkpoint(&args)?;
    let resuming = checkpoint.is_some();

    let client = args.connection.client().await?;
    let (items_key, id_field) = shape(&args.method);
    let mut list = client
        .list_raw(&args.method, Value::Object(params))
        .id_field(id_field);
    if let Some(key) = items_key {
        list = list.items_key(key);
    }
    let mut export = list.export().shards(args.shards);
    if let Some(checkpoint) = checkpoint {
        export = export.resume(checkpoint);
    }

    let mut sink = open_sink(&args, resuming)?;

    let progress = if std::io::stderr().is_terminal() {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let mut pages = Box::pin(export.pages());
    while let Some(page) = pages.try_next().await.map_err(|e| crate::describe(&e))? {
        let written = page
            .rows
            .iter()
            .try_for_each(|row| sink.write(row))
            .and_then(|()| sink.out.flush());
        match written {
            Ok(()) => {}
            // The reader went away (`| head`): stop quietly, as command-line tools do.
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
                progress.finish_and_clear();
                return Ok(());
            }
            Err(error) => return Err(format!("cannot write: {error}")),
        }
        if let Some(path) = &args.resume {
            save_checkpoint(path, &page.checkpoint)?;
        }
        let metrics = client.metrics();
        #[allow(clippy::cast_precision_loss)] // a rate shown to a person
        let rate = sink.rows as f64 / started.elapsed().as_secs_f64().max(0.001);
        progress.set_message(format!(
            "{} rows ({rate:.0}/s), {} requests, {} throttling waits",
            sink.rows, metrics.requests, metrics.throttle_waits
        ));
    }
    sink.finish().map_err(|e| format!("cannot write: {e}"))?;
    progress.finish_and_clear();
    if let Some(path) = &args.resume {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}
