//! Upload a file to Disk (inline or in two streamed steps, chosen by size), attach it to a new
//! task, and download it back.
//!
//! ```text
//! cargo run -p bitrix24-examples --example upload_file [PATH]
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use bitrix24::files::UploadSource;
use bitrix24::tasks::TaskFields;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let portal = bitrix24_examples::connect(0).await?;
    let client = &portal.client;
    let source = match std::env::args().nth(1) {
        Some(path) => UploadSource::from_path(path),
        None => UploadSource::from_bytes("hello.txt", "Hello from bitrix24-rs\n"),
    };

    // The user's own storage; its root folder takes the upload.
    let storages = client.disk().storages().await?;
    let folder = storages
        .iter()
        .find_map(|storage| storage.root_object_id)
        .ok_or("no Disk storage with a root folder")?;
    let file = client.disk().folder(folder.get()).upload(source).await?;
    println!(
        "uploaded {} (file {}, {} bytes)",
        file.name.as_deref().unwrap_or("?"),
        file.id,
        file.size.unwrap_or(0)
    );

    let task = client
        .tasks()
        .add(
            TaskFields::new()
                .title("Review the uploaded file")
                .responsible_id(1_u64)
                .disk_files([file.id]),
        )
        .await?
        .task;
    println!("task {} has the file attached", task.id);

    let url = file
        .download_url
        .as_deref()
        .ok_or("the file has no DOWNLOAD_URL")?;
    let bytes = client
        .disk()
        .file(file.id.get())
        .download(url)
        .bytes()
        .await?;
    println!("downloaded {} bytes back", bytes.len());
    Ok(())
}
