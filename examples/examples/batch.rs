//! Batches: up to 50 typed calls in one request, later commands using what earlier ones
//! returned, each command with its own result or error; then 120 creates through
//! `batch_all`, which cuts any number of calls into batches of 50.
//!
//! ```text
//! cargo run -p bitrix24-examples --example batch          # on the embedded sandbox
//! BITRIX24_WEBHOOK_URL=https://<portal>/rest/<user>/<secret>/ \
//!     cargo run -p bitrix24-examples --example batch      # on your portal (creates 121 leads)
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use bitrix24::crm::{Lead, LeadFields};
use bitrix24::methods::crm::lead;
use futures::StreamExt;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let portal = bitrix24_examples::connect(0).await?;
    let client = &portal.client;

    // One request, three commands. The portal runs them in order, so `read` can name the id
    // `add` is about to create: `$result[add]`, substituted on the portal's side.
    let mut batch = client.batch();
    let add = batch.add_named(
        "add",
        lead::Add::new().fields(LeadFields::new().title("Created in a batch")),
    );
    let read = batch.add_raw_named::<Lead>(
        "read",
        "crm.lead.get",
        json!({ "id": add.reference("") }),
        true,
    );
    let missing = batch.add_named("missing", lead::Get::new(999_999_999));
    // Without halt, a failing command does not stop the ones after it.
    batch.halt(false);
    let mut reply = batch.send().await?;

    println!("add: lead {}", reply.take(&add)?);
    let lead = reply.take(&read)?;
    println!(
        "read: lead {} {:?}",
        lead.id,
        lead.title.as_deref().unwrap_or_default()
    );
    // The batch itself succeeded (HTTP 200); each command carries its own outcome.
    match reply.take(&missing) {
        Ok(lead) => println!("missing: found lead {} after all", lead.id),
        Err(error) => println!("missing: failed on its own: {error}"),
    }

    // Any number of calls: 50 per request, results in input order, one per call.
    let before = client.metrics().requests;
    let adds = (1..=120)
        .map(|n| lead::Add::new().fields(LeadFields::new().title(format!("Lead {n} of 120"))));
    let results: Vec<_> = client.batch_all(adds).collect().await;
    let created = results.iter().filter(|result| result.is_ok()).count();
    for error in results.iter().filter_map(|result| result.as_ref().err()) {
        println!("batch_all: a create failed: {error}");
    }
    println!(
        "batch_all: {created} of {} leads created in {} requests",
        results.len(),
        client.metrics().requests - before
    );
    Ok(())
}
