//! Export every lead as fast as the portal's limits allow, as typed `Lead`s, to
//! `leads.ndjson`.
//!
//! ```text
//! cargo run --release -p bitrix24-examples --example export_leads   # sandbox, 20,000 leads
//! BITRIX24_WEBHOOK_URL=https://<portal>/rest/<user>/<secret>/ \
//!     cargo run --release -p bitrix24-examples --example export_leads
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::time::Instant;

use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let portal = bitrix24_examples::connect(20_000).await?;
    let client = &portal.client;
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "leads.ndjson".to_owned());
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);

    let started = Instant::now();
    // Keyset pages chained inside batches: 2,500 rows per request, shards in parallel.
    let mut pages = Box::pin(
        client
            .crm()
            .leads()
            .list()
            .with(|m| m.select(["ID", "TITLE", "STATUS_ID", "DATE_CREATE"]))
            .export()
            .pages(),
    );
    let mut rows = 0_usize;
    while let Some(page) = pages.try_next().await? {
        for lead in &page.rows {
            // Typed fields; write only what was selected.
            let row = serde_json::json!({
                "ID": lead.id,
                "TITLE": lead.title,
                "STATUS_ID": lead.status_id,
                "DATE_CREATE": lead.date_create,
            });
            serde_json::to_writer(&mut out, &row)?;
            out.write_all(b"\n")?;
        }
        rows += page.rows.len();
    }
    out.flush()?;
    let seconds = started.elapsed().as_secs_f64();
    let metrics = client.metrics();
    println!(
        "exported {rows} leads to {path} in {seconds:.1} s ({:.0} rows/s), {} requests",
        f64::from(u32::try_from(rows).unwrap_or(u32::MAX)) / seconds.max(0.001),
        metrics.requests
    );
    Ok(())
}
