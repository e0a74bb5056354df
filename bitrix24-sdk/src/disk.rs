//! The `disk` scope: typed requests, curated models and handles.
//!
//! Models of storages, folders and files (`disk.storage.*`, `disk.folder.*`, `disk.file.*`),
//! the folder-or-file rows of `getChildren` ([`DiskObject`]) and the two-step upload reply
//! ([`UploadResult`]).

mod model;

pub use model::{
    AttachedObject, DiskObject, DiskObjectType, File, Folder, Storage, StorageOwner, UploadResult,
    UploadTarget,
};

pub use crate::handles::disk::{Disk, FileHandle, FolderHandle};
