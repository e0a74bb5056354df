//! Accepted attachment types, recognised by content, and file name sanitizing.

use std::fmt;

/// An accepted attachment type.
///
/// Always the result of [`detect_file_kind`]: the content was checked, not only the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// PDF document.
    Pdf,
    /// Word 97–2003 document (OLE2 compound file).
    Doc,
    /// Word document (Office Open XML).
    Docx,
    /// Excel 97–2003 workbook (OLE2 compound file).
    Xls,
    /// Excel workbook (Office Open XML).
    Xlsx,
    /// JPEG image.
    Jpeg,
    /// PNG image.
    Png,
    /// GIF image.
    Gif,
    /// Plain text.
    Txt,
}

impl FileKind {
    /// The MIME type to store and serve the file with.
    pub fn mime(&self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Doc => "application/msword",
            Self::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Self::Xls => "application/vnd.ms-excel",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
            Self::Txt => "text/plain",
        }
    }

    /// The canonical file extension, lowercase and without the dot (`jpg` for JPEG).
    pub fn extension(&self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Doc => "doc",
            Self::Docx => "docx",
            Self::Xls => "xls",
            Self::Xlsx => "xlsx",
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Gif => "gif",
            Self::Txt => "txt",
        }
    }

    /// The kind a file extension (without the dot, any case) claims, if it is an accepted one.
    pub fn from_extension(extension: &str) -> Option<Self> {
        Some(match extension.to_ascii_lowercase().as_str() {
            "pdf" => Self::Pdf,
            "doc" => Self::Doc,
            "docx" => Self::Docx,
            "xls" => Self::Xls,
            "xlsx" => Self::Xlsx,
            "jpg" | "jpeg" => Self::Jpeg,
            "png" => Self::Png,
            "gif" => Self::Gif,
            "txt" => Self::Txt,
            _ => return None,
        })
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// Why a file was refused by [`detect_file_kind`]; every variant maps to the `file_type` code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileKindError {
    /// The file name has no extension.
    #[error(
        "the file name has no extension; accepted: PDF, DOC, DOCX, XLS, XLSX, JPG, PNG, GIF, TXT"
    )]
    MissingExtension,
    /// The extension is not one of the accepted types.
    #[error(
        ".{extension} files are not accepted; accepted: PDF, DOC, DOCX, XLS, XLSX, JPG, PNG, GIF, TXT"
    )]
    UnsupportedExtension {
        /// The extension as given, without the dot.
        extension: String,
    },
    /// The content is not what the extension claims.
    #[error("the content is not a .{extension} file ({detected})")]
    ContentMismatch {
        /// The extension as given, without the dot.
        extension: String,
        /// What the content looks like, for the message: "a PNG image", "unrecognised content".
        detected: &'static str,
    },
}

/// Detects an attachment's type from its content and checks that `file_name`'s extension agrees.
///
/// Only the last path component of `file_name` is looked at. The content decides: a PNG named
/// `.pdf` and an executable renamed `.pdf` are both refused. DOC and XLS share one container
/// format (OLE2) and are told apart by the extension only; DOCX and XLSX are ZIP archives told
/// apart by their `word/` or `xl/` entries. Text is UTF-8 or a single-byte encoding such as
/// Windows-1251 (no NUL bytes, no control characters other than whitespace).
///
/// # Errors
///
/// [`FileKindError`] when the extension is missing or not accepted, or the content does not
/// match it.
pub fn detect_file_kind(file_name: &str, bytes: &[u8]) -> Result<FileKind, FileKindError> {
    let base = base_name(file_name);
    let extension = match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.trim_matches('.').is_empty() && !ext.is_empty() => ext,
        _ => return Err(FileKindError::MissingExtension),
    };
    let Some(claimed) = FileKind::from_extension(extension) else {
        return Err(FileKindError::UnsupportedExtension {
            extension: extension.to_owned(),
        });
    };
    let content = sniff(bytes);
    let matches = match claimed {
        FileKind::Pdf => content == Content::Pdf,
        FileKind::Png => content == Content::Png,
        FileKind::Jpeg => content == Content::Jpeg,
        FileKind::Gif => content == Content::Gif,
        FileKind::Doc | FileKind::Xls => content == Content::Ole2,
        FileKind::Docx => matches!(content, Content::Zip { word: true, .. }),
        FileKind::Xlsx => matches!(content, Content::Zip { excel: true, .. }),
        FileKind::Txt => content == Content::Text,
    };
    if matches {
        Ok(claimed)
    } else {
        Err(FileKindError::ContentMismatch {
            extension: extension.to_owned(),
            detected: content.describe(),
        })
    }
}

/// Makes a client-supplied file name safe to store and show.
///
/// Keeps the last path component only (old browsers send `C:\Users\…\cv.pdf`), drops control
/// and bidirectional-override characters (`cv\u{202E}fdp.exe` would display as `cvexe.pdf`),
/// replaces characters Windows forbids with `_`, trims spaces and dots at both ends, and cuts
/// the name to at most 255 bytes keeping its extension. May return an empty string.
pub fn sanitize_file_name(file_name: &str) -> String {
    const MAX_BYTES: usize = 255;
    let cleaned: String = base_name(file_name)
        .chars()
        .filter(|&c| !c.is_control() && !is_bidi_control(c))
        .map(|c| {
            if matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let name = cleaned.trim_matches(|c: char| c.is_whitespace() || c == '.');
    if name.len() <= MAX_BYTES {
        return name.to_owned();
    }
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, ext)) if ext.len() <= 16 => (stem, Some(ext)),
        _ => (name, None),
    };
    let room = MAX_BYTES - extension.map_or(0, |ext| ext.len() + 1);
    let mut cut = room.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    let stem = stem[..cut].trim_end();
    match extension {
        Some(ext) => format!("{stem}.{ext}"),
        None => stem.to_owned(),
    }
}

fn base_name(file_name: &str) -> &str {
    file_name.rsplit(['/', '\\']).next().unwrap_or(file_name)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// What the bytes of a file look like, independent of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Pdf,
    Png,
    Jpeg,
    Gif,
    Ole2,
    Zip { word: bool, excel: bool },
    Text,
    Unknown,
}

impl Content {
    fn describe(self) -> &'static str {
        match self {
            Self::Pdf => "it is a PDF document",
            Self::Png => "it is a PNG image",
            Self::Jpeg => "it is a JPEG image",
            Self::Gif => "it is a GIF image",
            Self::Ole2 => "it is a DOC or XLS document",
            Self::Zip { word: true, .. } => "it is a DOCX document",
            Self::Zip { excel: true, .. } => "it is an XLSX workbook",
            Self::Zip { .. } => "it is a ZIP archive",
            Self::Text => "it is plain text",
            Self::Unknown => "unrecognised content",
        }
    }
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
const OLE2_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
const ZIP_LOCAL_HEADER: &[u8] = b"PK\x03\x04";

fn sniff(bytes: &[u8]) -> Content {
    if bytes.starts_with(b"%PDF-") {
        Content::Pdf
    } else if bytes.starts_with(PNG_MAGIC) {
        Content::Png
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        Content::Jpeg
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Content::Gif
    } else if bytes.starts_with(OLE2_MAGIC) {
        Content::Ole2
    } else if bytes.starts_with(ZIP_LOCAL_HEADER) {
        let (mut word, mut excel) = (false, false);
        for name in zip_entry_names(bytes) {
            word |= name.starts_with(b"word/");
            excel |= name.starts_with(b"xl/");
        }
        Content::Zip { word, excel }
    } else if is_text(bytes) {
        Content::Text
    } else {
        Content::Unknown
    }
}

fn is_text(bytes: &[u8]) -> bool {
    if bytes.contains(&0) {
        return false;
    }
    // Legacy single-byte encodings (Windows-1251 is common for Russian users) are not UTF-8 but
    // use only bytes >= 0x20 besides whitespace; binaries have other control bytes.
    std::str::from_utf8(bytes).is_ok()
        || bytes
            .iter()
            .all(|&b| (b >= 0x20 && b != 0x7F) || matches!(b, b'\t' | b'\n' | b'\r' | 0x0C))
}

fn read_u16(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(usize::from(u16::from_le_bytes([b[0], b[1]])))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
}

/// Entry names of a ZIP archive: from the central directory when it can be read, otherwise from
/// a scan for local file headers (an archive cut short, or ZIP64).
fn zip_entry_names(bytes: &[u8]) -> Vec<&[u8]> {
    central_directory_names(bytes).unwrap_or_else(|| local_header_names(bytes))
}

fn central_directory_names(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    const EOCD: &[u8] = b"PK\x05\x06";
    const EOCD_LEN: usize = 22;
    const ENTRY: &[u8] = b"PK\x01\x02";
    const ENTRY_LEN: usize = 46;
    // The end record sits in the last 22 bytes plus at most a 65535-byte archive comment.
    let earliest = bytes.len().saturating_sub(EOCD_LEN + usize::from(u16::MAX));
    let last = bytes.len().checked_sub(EOCD_LEN)?;
    let eocd = (earliest..=last)
        .rev()
        .find(|&at| bytes[at..].starts_with(EOCD))?;
    let count = read_u16(bytes, eocd + 10)?;
    let mut at = read_u32(bytes, eocd + 16)?;
    let mut names = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        if !bytes.get(at..)?.starts_with(ENTRY) {
            return None;
        }
        let name_len = read_u16(bytes, at + 28)?;
        let extra_len = read_u16(bytes, at + 30)?;
        let comment_len = read_u16(bytes, at + 32)?;
        let name_start = at + ENTRY_LEN;
        names.push(bytes.get(name_start..name_start + name_len)?);
        at = name_start + name_len + extra_len + comment_len;
    }
    Some(names)
}

fn local_header_names(bytes: &[u8]) -> Vec<&[u8]> {
    const HEADER_LEN: usize = 30;
    let mut names = Vec::new();
    let mut from = 0;
    while let Some(offset) = bytes.get(from..).and_then(|rest| {
        rest.windows(ZIP_LOCAL_HEADER.len())
            .position(|w| w == ZIP_LOCAL_HEADER)
    }) {
        let at = from + offset;
        let name = read_u16(bytes, at + 26)
            .and_then(|len| bytes.get(at + HEADER_LEN..at + HEADER_LEN + len));
        names.extend(name);
        from = at + ZIP_LOCAL_HEADER.len();
    }
    names
}

#[cfg(test)]
pub(super) mod samples {
    //! Minimal files of every accepted kind, built byte by byte.

    pub(in super::super) const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
    pub(in super::super) const PNG: &[u8] =
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0DIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00";
    pub(in super::super) const JPEG: &[u8] =
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xFF\xD9";
    pub(in super::super) const GIF87: &[u8] = b"GIF87a\x01\x00\x01\x00\x00\x00\x00;";
    pub(in super::super) const GIF89: &[u8] =
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xFF\xFF\xFF\x00\x00\x00;";
    pub(in super::super) const TEXT: &[u8] =
        "Здравствуйте!\r\nPlease call me.\n\tThanks".as_bytes();
    /// "Привет" in Windows-1251.
    pub(in super::super) const TEXT_CP1251: &[u8] = b"\xCF\xF0\xE8\xE2\xE5\xF2\r\n";
    pub(in super::super) const EXE: &[u8] =
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xFF\xFF\x00\x00PE\x00\x00";

    /// An OLE2 compound file header followed by zeroed sectors, as DOC and XLS files start.
    pub(in super::super) fn ole2() -> Vec<u8> {
        let mut bytes = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
        bytes.extend_from_slice(&[0; 16]);
        bytes.extend_from_slice(&[0x3E, 0x00, 0x03, 0x00, 0xFE, 0xFF, 0x09, 0x00]);
        bytes.resize(512, 0);
        bytes
    }

    /// A stored (uncompressed) ZIP archive with the given entries, central directory included.
    pub(in super::super) fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in entries {
            let offset = u32::try_from(out.len()).unwrap();
            let size = u32::try_from(data.len()).unwrap();
            let name_len = u16::try_from(name.len()).unwrap();
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method, time, date
            out.extend_from_slice(&0u32.to_le_bytes()); // crc32, not checked by the sniffer
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&name_len.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);

            central.extend_from_slice(b"PK\x01\x02");
            central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // made by, needed, flags, method, time, date
            central.extend_from_slice(&0u32.to_le_bytes());
            central.extend_from_slice(&size.to_le_bytes());
            central.extend_from_slice(&size.to_le_bytes());
            central.extend_from_slice(&name_len.to_le_bytes());
            central.extend_from_slice(&[0; 12]); // extra, comment, disk, attributes
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let central_offset = u32::try_from(out.len()).unwrap();
        let central_len = u32::try_from(central.len()).unwrap();
        let count = u16::try_from(entries.len()).unwrap();
        out.extend_from_slice(&central);
        out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&central_len.to_le_bytes());
        out.extend_from_slice(&central_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    const CONTENT_TYPES: (&str, &[u8]) =
        ("[Content_Types].xml", b"<?xml version=\"1.0\"?><Types/>");

    pub(in super::super) fn docx() -> Vec<u8> {
        zip(&[
            CONTENT_TYPES,
            ("_rels/.rels", b"<Relationships/>"),
            ("word/document.xml", b"<w:document/>"),
        ])
    }

    pub(in super::super) fn xlsx() -> Vec<u8> {
        zip(&[
            CONTENT_TYPES,
            ("_rels/.rels", b"<Relationships/>"),
            ("xl/workbook.xml", b"<workbook/>"),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::samples::*;
    use super::*;

    #[test]
    fn detects_every_kind_from_content() {
        let cases: Vec<(&str, Vec<u8>, FileKind)> = vec![
            ("offer.pdf", PDF.to_vec(), FileKind::Pdf),
            ("photo.png", PNG.to_vec(), FileKind::Png),
            ("photo.jpg", JPEG.to_vec(), FileKind::Jpeg),
            ("photo.JPEG", JPEG.to_vec(), FileKind::Jpeg),
            ("old.gif", GIF87.to_vec(), FileKind::Gif),
            ("anim.gif", GIF89.to_vec(), FileKind::Gif),
            ("letter.doc", ole2(), FileKind::Doc),
            ("prices.xls", ole2(), FileKind::Xls),
            ("letter.docx", docx(), FileKind::Docx),
            ("prices.XLSX", xlsx(), FileKind::Xlsx),
            ("notes.txt", TEXT.to_vec(), FileKind::Txt),
            ("notes-1251.txt", TEXT_CP1251.to_vec(), FileKind::Txt),
            ("empty.txt", Vec::new(), FileKind::Txt),
        ];
        for (name, bytes, kind) in cases {
            assert_eq!(detect_file_kind(name, &bytes), Ok(kind), "{name}");
        }
    }

    #[test]
    fn mime_and_extension_of_every_kind() {
        let all = [
            (FileKind::Pdf, "application/pdf", "pdf"),
            (FileKind::Doc, "application/msword", "doc"),
            (
                FileKind::Docx,
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "docx",
            ),
            (FileKind::Xls, "application/vnd.ms-excel", "xls"),
            (
                FileKind::Xlsx,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            ),
            (FileKind::Jpeg, "image/jpeg", "jpg"),
            (FileKind::Png, "image/png", "png"),
            (FileKind::Gif, "image/gif", "gif"),
            (FileKind::Txt, "text/plain", "txt"),
        ];
        for (kind, mime, extension) in all {
            assert_eq!(kind.mime(), mime);
            assert_eq!(kind.extension(), extension);
            assert_eq!(FileKind::from_extension(extension), Some(kind));
            assert_eq!(kind.to_string(), extension);
        }
    }

    #[test]
    fn content_must_match_the_extension() {
        let mismatch = |name: &str, bytes: &[u8]| match detect_file_kind(name, bytes) {
            Err(FileKindError::ContentMismatch { detected, .. }) => detected,
            other => panic!("{name}: expected a mismatch, got {other:?}"),
        };
        assert_eq!(mismatch("photo.pdf", PNG), "it is a PNG image");
        assert_eq!(mismatch("setup.pdf", EXE), "unrecognised content");
        assert_eq!(mismatch("setup.txt", EXE), "unrecognised content");
        assert_eq!(mismatch("scan.png", JPEG), "it is a JPEG image");
        assert_eq!(mismatch("scan.jpg", GIF89), "it is a GIF image");
        assert_eq!(mismatch("offer.txt", PDF), "it is a PDF document");
        assert_eq!(mismatch("letter.docx", &xlsx()), "it is an XLSX workbook");
        assert_eq!(mismatch("prices.xlsx", &docx()), "it is a DOCX document");
        assert_eq!(mismatch("letter.doc", &docx()), "it is a DOCX document");
        assert_eq!(
            mismatch("letter.docx", &ole2()),
            "it is a DOC or XLS document"
        );
        assert_eq!(
            mismatch("archive.docx", &zip(&[("readme.md", b"hi")])),
            "it is a ZIP archive"
        );
        assert_eq!(mismatch("notes.pdf", TEXT), "it is plain text");
        assert_eq!(mismatch("empty.pdf", b""), "it is plain text");
        assert_eq!(
            mismatch("utf16.txt", b"\xFF\xFEh\x00i\x00"),
            "unrecognised content"
        );
    }

    #[test]
    fn refuses_missing_and_unsupported_extensions() {
        assert_eq!(
            detect_file_kind("README", TEXT),
            Err(FileKindError::MissingExtension)
        );
        assert_eq!(
            detect_file_kind(".txt", TEXT),
            Err(FileKindError::MissingExtension)
        );
        assert_eq!(
            detect_file_kind("notes.", TEXT),
            Err(FileKindError::MissingExtension)
        );
        assert_eq!(
            detect_file_kind("", b""),
            Err(FileKindError::MissingExtension)
        );
        assert_eq!(
            detect_file_kind("setup.exe", EXE),
            Err(FileKindError::UnsupportedExtension {
                extension: "exe".into()
            })
        );
        assert_eq!(
            detect_file_kind("archive.zip", &zip(&[("a", b"b")])),
            Err(FileKindError::UnsupportedExtension {
                extension: "zip".into()
            })
        );
        // The extension of the directory does not count.
        assert_eq!(
            detect_file_kind("docs.pdf/README", PDF),
            Err(FileKindError::MissingExtension)
        );
        assert_eq!(
            detect_file_kind(r"C:\Users\ivan\offer.pdf", PDF),
            Ok(FileKind::Pdf)
        );
    }

    #[test]
    fn zip_entries_come_from_the_central_directory_or_local_headers() {
        let archive = docx();
        let names = central_directory_names(&archive).unwrap();
        assert_eq!(
            names,
            [
                &b"[Content_Types].xml"[..],
                b"_rels/.rels",
                b"word/document.xml"
            ]
        );

        // Cut before the central directory: the local headers still tell.
        let cut = archive.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        assert_eq!(central_directory_names(&archive[..cut]), None);
        assert_eq!(
            detect_file_kind("letter.docx", &archive[..cut]),
            Ok(FileKind::Docx)
        );

        // A central directory pointing outside the archive falls back to the scan as well.
        let mut broken = xlsx();
        let len = broken.len();
        broken[len - 6..len - 2].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(detect_file_kind("prices.xlsx", &broken), Ok(FileKind::Xlsx));

        // Headers that run past the end do not panic.
        assert_eq!(
            detect_file_kind("x.docx", b"PK\x03\x04\x14\x00"),
            Err(FileKindError::ContentMismatch {
                extension: "docx".into(),
                detected: "it is a ZIP archive",
            })
        );
        let mut truncated_eocd = b"PK\x03\x04".to_vec();
        truncated_eocd.extend_from_slice(&[0; 30]);
        truncated_eocd.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00\xFF\xFF\xFF\xFF");
        truncated_eocd.extend_from_slice(&[0xFF; 10]);
        assert!(detect_file_kind("x.xlsx", &truncated_eocd).is_err());
    }

    #[test]
    fn sanitizes_file_names() {
        assert_eq!(sanitize_file_name("cv.pdf"), "cv.pdf");
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(
            sanitize_file_name(r"C:\Users\Иван\Резюме.docx"),
            "Резюме.docx"
        );
        assert_eq!(sanitize_file_name("  .hidden.txt  "), "hidden.txt");
        assert_eq!(sanitize_file_name("a\0b\r\nc\u{7}.txt"), "abc.txt");
        assert_eq!(sanitize_file_name("cv\u{202E}fdp.exe"), "cvfdp.exe");
        assert_eq!(
            sanitize_file_name("what?<is>this*:|\".txt"),
            "what__is_this____.txt"
        );
        assert_eq!(sanitize_file_name("offer.pdf. . "), "offer.pdf");
        assert_eq!(sanitize_file_name(".."), "");
        assert_eq!(sanitize_file_name("dir/"), "");
    }

    #[test]
    fn long_names_are_cut_to_255_bytes_keeping_the_extension() {
        let long = format!("{}.pdf", "я".repeat(300));
        let name = sanitize_file_name(&long);
        assert!(name.len() <= 255, "{}", name.len());
        assert!(name.len() >= 250);
        assert!(name.ends_with("я.pdf"));

        let no_extension = "x".repeat(400);
        assert_eq!(sanitize_file_name(&no_extension).len(), 255);

        let exact = format!("{}.txt", "a".repeat(251));
        assert_eq!(sanitize_file_name(&exact), exact);
    }
}
