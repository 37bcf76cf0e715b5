//! JPEG: an XMP APP1 segment and a COM segment after the JFIF/Exif segments that must come
//! first. An older standard XMP segment is replaced; everything else is kept as is.

use std::ops::Range;

use super::{Part, Provenance, Splice, StampError, statement, xmp};

/// What opens a standard XMP APP1 segment (XMP specification, part 3).
const XMP_HEADER: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const APP1: u8 = 0xE1;
const APP11: u8 = 0xEB;
const COM: u8 = 0xFE;

struct Segment {
    marker: u8,
    payload: Range<usize>,
    whole: Range<usize>,
}

/// The marker segments before the scan data, and where the scan data starts.
fn segments(bytes: &[u8]) -> Result<(Vec<Segment>, usize), StampError> {
    let malformed = || StampError::Malformed("JPEG");
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err(malformed());
    }
    let mut out = Vec::new();
    let mut at = 2usize;
    loop {
        if bytes.get(at) != Some(&0xFF) {
            return Err(malformed());
        }
        // Any number of 0xFF fill bytes may precede a marker.
        let mut m_at = at + 1;
        while bytes.get(m_at) == Some(&0xFF) {
            m_at += 1;
        }
        let marker = *bytes.get(m_at).ok_or_else(malformed)?;
        match marker {
            // Start of scan or end of image: the image data, kept as it is.
            0xDA | 0xD9 => return Ok((out, at)),
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => {
                at = m_at + 1;
                continue;
            }
            _ => {}
        }
        let len: [u8; 2] = bytes
            .get(m_at + 1..m_at + 3)
            .and_then(|l| l.try_into().ok())
            .ok_or_else(malformed)?;
        let len = usize::from(u16::from_be_bytes(len));
        let end = m_at + 1 + len;
        if len < 2 || end > bytes.len() {
            return Err(malformed());
        }
        out.push(Segment {
            marker,
            payload: m_at + 3..end,
            whole: at..end,
        });
        at = end;
    }
}

fn payload<'a>(bytes: &'a [u8], s: &Segment) -> &'a [u8] {
    bytes.get(s.payload.clone()).unwrap_or_default()
}

fn is_xmp(bytes: &[u8], s: &Segment) -> bool {
    s.marker == APP1 && payload(bytes, s).starts_with(XMP_HEADER)
}

/// JFIF (APP0) and Exif (APP1) segments must stay first; ours go right after them.
fn stays_first(bytes: &[u8], s: &Segment) -> bool {
    s.marker == 0xE0 || (s.marker == APP1 && payload(bytes, s).starts_with(b"Exif\0"))
}

/// Whether an APP11 segment holds a C2PA manifest (a JUMBF box labelled `c2pa`).
fn is_c2pa(bytes: &[u8], s: &Segment) -> bool {
    let head = payload(bytes, s);
    s.marker == APP11
        && head
            .get(..head.len().min(64))
            .is_some_and(|h| h.windows(4).any(|w| w == b"c2pa"))
}

pub fn stamp(bytes: &[u8], p: &Provenance) -> Result<Splice, StampError> {
    let (segments, scan) = segments(bytes)?;
    if segments.iter().any(|s| is_c2pa(bytes, s)) {
        return Err(StampError::SignedManifest);
    }
    let ours = our_segments(p)?;
    let first = segments
        .iter()
        .take_while(|s| stays_first(bytes, s))
        .count();
    let mut parts = vec![Part::Original(0..2)];
    let mut ours = Some(Part::New(ours));
    for (i, s) in segments.iter().enumerate() {
        if i == first {
            parts.extend(ours.take());
        }
        if is_xmp(bytes, s) {
            continue;
        }
        match parts.last_mut() {
            Some(Part::Original(r)) if r.end == s.whole.start => r.end = s.whole.end,
            _ => parts.push(Part::Original(s.whole.clone())),
        }
    }
    parts.extend(ours.take());
    parts.push(Part::Original(scan..bytes.len()));
    Ok(Splice { parts })
}

/// The XMP APP1 and COM segments for `p`.
fn our_segments(p: &Provenance) -> Result<Vec<u8>, StampError> {
    let packet = xmp::write(p);
    let comment = statement(p);
    let mut out = Vec::with_capacity(packet.len() + 200);
    for (marker, parts) in [
        (APP1, [XMP_HEADER, packet.as_bytes()]),
        (COM, [&b""[..], comment.as_bytes()]),
    ] {
        let len: usize = 2 + parts.iter().map(|b| b.len()).sum::<usize>();
        let len = u16::try_from(len).map_err(|_| StampError::TooLarge("JPEG"))?;
        out.extend_from_slice(&[0xFF, marker]);
        out.extend_from_slice(&len.to_be_bytes());
        for part in parts {
            out.extend_from_slice(part);
        }
    }
    Ok(out)
}

/// The standard XMP packet of a JPEG, if it has one.
pub fn xmp(bytes: &[u8]) -> Option<&[u8]> {
    let (segments, _) = segments(bytes).ok()?;
    let s = segments.iter().find(|s| is_xmp(bytes, s))?;
    payload(bytes, s).get(XMP_HEADER.len()..)
}
