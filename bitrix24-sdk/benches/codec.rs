//! Micro-benchmarks of the hot paths of listing and exporting: decoding reply envelopes into
//! typed rows, and encoding batch commands.
//!
//! ```text
//! cargo bench -p bitrix24-sdk --bench codec
//! ```
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;
use serde_json::{Value, json};

/// A lead as an export reads it.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Lead {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "TITLE")]
    title: Option<String>,
    #[serde(rename = "NAME")]
    name: Option<String>,
    #[serde(rename = "STATUS_ID")]
    status: Option<String>,
    #[serde(rename = "OPPORTUNITY")]
    opportunity: Option<String>,
    #[serde(rename = "DATE_CREATE")]
    created: Option<String>,
}

/// A batch reply's `result`: pages of typed leads by command key.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Chain {
    result: std::collections::BTreeMap<String, Vec<Lead>>,
}

fn lead(id: u64) -> Value {
    json!({
        "ID": id.to_string(), "TITLE": format!("Lead #{id}"), "NAME": format!("Customer {id}"),
        "STATUS_ID": "IN_PROCESS", "OPPORTUNITY": "15000.00", "DATE_CREATE": "2024-05-23T18:18:25+03:00"
    })
}

fn time() -> Value {
    json!({ "start": 1_724_068_028.331, "finish": 1_724_068_028.726, "duration": 0.395, "processing": 0.35,
            "date_start": "2024-08-19T14:47:08+03:00", "date_finish": "2024-08-19T14:47:08+03:00",
            "operating": 3.1, "operating_reset_at": 1_724_068_628 })
}

fn decoding(c: &mut Criterion) {
    let page = json!({ "result": (1..=50).map(lead).collect::<Vec<_>>(), "total": 120, "next": 50, "time": time() }).to_string();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(50));
    group.bench_function("page of 50 typed leads", |b| {
        b.iter(|| bitrix24::decode_reply::<Vec<Lead>>(black_box(page.as_bytes()), 200).unwrap());
    });
    group.bench_function("page of 50 leads as JSON values", |b| {
        b.iter(|| bitrix24::decode_reply::<Vec<Value>>(black_box(page.as_bytes()), 200).unwrap());
    });
    let batch: serde_json::Map<String, Value> = (0..50)
        .map(|i| {
            (
                format!("c{i}"),
                Value::Array((i * 50 + 1..=i * 50 + 50).map(lead).collect()),
            )
        })
        .collect();
    let chain = json!({ "result": { "result": batch, "result_error": [], "result_total": [], "result_next": [], "result_time": [] }, "time": time() }).to_string();
    group.throughput(Throughput::Elements(2_500));
    group.bench_function("batch of 50 pages (2,500 typed leads)", |b| {
        b.iter(|| bitrix24::decode_reply::<Chain>(black_box(chain.as_bytes()), 200).unwrap());
    });
    group.finish();
}

fn encoding(c: &mut Criterion) {
    let Value::Object(params) = json!({
        "select": ["ID", "TITLE", "NAME", "STATUS_ID", "OPPORTUNITY", "DATE_CREATE"],
        "filter": { ">ID": "$result[c0][49][ID]", "<=ID": 250_000, "@STATUS_ID": ["NEW", "IN_PROCESS"] },
        "order": { "ID": "ASC" },
        "start": -1
    }) else {
        unreachable!()
    };
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one list command", |b| {
        b.iter(|| bitrix24::batch::encode_query(black_box(&params)));
    });
    group.finish();
}

criterion_group!(benches, decoding, encoding);
criterion_main!(benches);
