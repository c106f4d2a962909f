//! `.zip` packages built in memory for the tests that deploy code and publish layers, and the
//! base64 the API carries them in.

use std::io::Write;

use base64::Engine;

/// A `.zip` of these entries (name, contents, Unix mode). Every entry has the same fixed
/// time, so the same entries make the same bytes (and `CodeSha256`).
pub fn zip_of<D: AsRef<[u8]>>(entries: &[(&str, D, u32)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data, mode) in entries {
        let options = zip::write::SimpleFileOptions::default()
            .unix_permissions(*mode)
            .last_modified_time(zip::DateTime::default());
        out.start_file(*name, options).expect("zip entry");
        out.write_all(data.as_ref()).expect("zip data");
    }
    out.finish().expect("zip").into_inner()
}

/// Standard base64, as `ZipFile` fields carry a `.zip`.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
