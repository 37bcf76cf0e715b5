//! PNG: `iTXt` chunks right after `IHDR`, so readers that stop at the image data still see
//! them. Text chunks under the keywords we write are replaced, everything else is kept as is.

use std::ops::Range;

use super::{Part, Provenance, Splice, StampError, statement, xmp};

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
/// The keyword XMP lives under in PNG (XMP specification, part 3).
const XMP_KEY: &[u8] = b"XML:com.adobe.xmp";
/// Every keyword we write: older chunks under these are dropped, not duplicated.
const KEYS: [&[u8]; 7] = [
    XMP_KEY,
    b"Description",
    b"Software",
    b"Creation Time",
    b"Source",
    b"Comment",
    b"parameters",
];

struct Chunk {
    kind: [u8; 4],
    data: Range<usize>,
    /// Length, type, data and CRC.
    whole: Range<usize>,
}

/// The chunks up to and including `IEND`, or an error for a stream that is cut or malformed.
fn chunks(bytes: &[u8]) -> Result<Vec<Chunk>, StampError> {
    let malformed = StampError::Malformed("PNG");
    if bytes.get(..8) != Some(&SIGNATURE[..]) {
        return Err(malformed);
    }
    let mut out = Vec::new();
    let mut at = 8usize;
    loop {
        let header = bytes.get(at..at + 8).ok_or(StampError::Malformed("PNG"))?;
        let (len, kind) = header.split_at(4);
        let len = u32::from_be_bytes(len.try_into().map_err(|_| StampError::Malformed("PNG"))?);
        let kind: [u8; 4] = kind.try_into().map_err(|_| StampError::Malformed("PNG"))?;
        let data_end = (at + 8)
            .checked_add(len as usize)
            .filter(|&end| end + 4 <= bytes.len())
            .ok_or(StampError::Malformed("PNG"))?;
        out.push(Chunk {
            kind,
            data: at + 8..data_end,
            whole: at..data_end + 4,
        });
        at = data_end + 4;
        if &kind == b"IEND" {
            return Ok(out);
        }
    }
}

/// The keyword of a text chunk (`tEXt`, `zTXt`, `iTXt`), or `None` for any other chunk.
fn keyword<'a>(bytes: &'a [u8], chunk: &Chunk) -> Option<&'a [u8]> {
    if !matches!(&chunk.kind, b"tEXt" | b"zTXt" | b"iTXt") {
        return None;
    }
    let data = bytes.get(chunk.data.clone())?;
    data.split(|&b| b == 0).next()
}

pub fn stamp(bytes: &[u8], p: &Provenance) -> Result<Splice, StampError> {
    let all = chunks(bytes)?;
    let Some(ihdr) = all.first().filter(|c| &c.kind == b"IHDR") else {
        return Err(StampError::Malformed("PNG"));
    };
    if all.iter().any(|c| &c.kind == b"caBX") {
        return Err(StampError::SignedManifest);
    }
    let mut parts = vec![Part::Original(0..ihdr.whole.end), Part::New(text_chunks(p))];
    for chunk in all.iter().skip(1) {
        if keyword(bytes, chunk).is_some_and(|k| KEYS.contains(&k)) {
            continue;
        }
        match parts.last_mut() {
            Some(Part::Original(r)) if r.end == chunk.whole.start => r.end = chunk.whole.end,
            _ => parts.push(Part::Original(chunk.whole.clone())),
        }
    }
    let end = all.last().map_or(bytes.len(), |c| c.whole.end);
    if end < bytes.len() {
        parts.push(Part::Original(end..bytes.len()));
    }
    Ok(Splice { parts })
}

/// The `iTXt` chunks for `p`.
fn text_chunks(p: &Provenance) -> Vec<u8> {
    let mut parameters = p.prompt.clone();
    let mut fields = vec![format!("Model: {}", p.model)];
    fields.extend(p.size.as_ref().map(|s| format!("Size: {s}")));
    fields.extend(p.seed.map(|s| format!("Seed: {s}")));
    fields.extend(p.request_id.as_ref().map(|r| format!("Request id: {r}")));
    fields.push(format!("Created: {}", p.created));
    fields.push(format!("Software: {}", p.software));
    parameters.push('\n');
    parameters.push_str(&fields.join(", "));
    let texts: [(&[u8], String); 7] = [
        (XMP_KEY, xmp::write(p)),
        (b"Description", p.prompt.clone()),
        (b"Software", p.software.clone()),
        (b"Creation Time", p.created.clone()),
        (b"Source", format!("ByteDance Seedream ({})", p.model)),
        (b"Comment", statement(p)),
        (b"parameters", parameters),
    ];
    let mut out = Vec::new();
    for (key, text) in texts {
        // Keyword, then: uncompressed, no method, no language tag, no translated keyword.
        let mut data = key.to_vec();
        data.extend_from_slice(&[0, 0, 0, 0, 0]);
        data.extend_from_slice(text.as_bytes());
        push_chunk(&mut out, b"iTXt", &data);
    }
    out
}

fn push_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    // Our chunks hold at most a few tens of kilobytes (the prompt is capped).
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// The uncompressed XMP packet of a PNG, if it has one. Reads what it can of a cut stream.
pub fn xmp(bytes: &[u8]) -> Option<&[u8]> {
    let mut at = 8usize;
    while let Some(header) = bytes.get(at..at + 8) {
        let len = u32::from_be_bytes(header.get(..4)?.try_into().ok()?) as usize;
        let kind = header.get(4..8)?;
        let data = bytes.get(at + 8..(at + 8).checked_add(len)?)?;
        if kind == b"iTXt" && data.starts_with(XMP_KEY) {
            let rest = data.get(XMP_KEY.len()..)?;
            // NUL, compression flag (must be 0: XMP is never compressed), method, then the
            // language tag and translated keyword, each NUL-terminated.
            let (0, 0) = (*rest.first()?, *rest.get(1)?) else {
                return None;
            };
            let after_flags = rest.get(3..)?;
            let lang_end = after_flags.iter().position(|&b| b == 0)?;
            let translated = after_flags.get(lang_end + 1..)?;
            let text_start = translated.iter().position(|&b| b == 0)? + 1;
            return translated.get(text_start..);
        }
        if kind == b"IEND" {
            return None;
        }
        at = at.checked_add(len + 12)?;
    }
    None
}
