//! The XMP packet: written as plain text (one `rdf:Description`, simple values as attributes),
//! and read back by looking for exactly what we write, so no XML parser is needed. Values are
//! escaped with `"` always as `&quot;`, so an attribute pattern never matches inside text.

use super::Provenance;

/// IPTC's term for media made by a trained model (the "AI generated" marking).
pub const TRAINED_ALGORITHMIC_MEDIA: &str =
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";

/// Our namespace for what no standard schema names (model, seed, request id…).
const NS: &str = "https://github.com/seedream-mcp/seedream-mcp/ns/1.0/";

pub fn write(p: &Provenance) -> String {
    let mut attrs = vec![
        (
            "Iptc4xmpExt:DigitalSourceType",
            TRAINED_ALGORITHMIC_MEDIA.to_owned(),
        ),
        ("xmp:CreateDate", p.created.clone()),
        ("xmp:CreatorTool", p.software.clone()),
        ("seedream:model", p.model.clone()),
    ];
    let optional = [
        ("seedream:size", p.size.clone()),
        ("seedream:seed", p.seed.map(|s| s.to_string())),
        ("seedream:requestId", p.request_id.clone()),
        ("seedream:job", p.job.clone()),
        ("seedream:index", p.index.map(|i| i.to_string())),
    ];
    attrs.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
    let attrs: String = attrs
        .iter()
        .map(|(k, v)| format!("\n    {k}=\"{}\"", escape(v)))
        .collect();
    format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n\
         <x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n \
         <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n  \
         <rdf:Description rdf:about=\"\"\n    \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n    \
         xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"\n    \
         xmlns:Iptc4xmpExt=\"http://iptc.org/std/Iptc4xmpExt/2008-02-29/\"\n    \
         xmlns:seedream=\"{NS}\"{attrs}>\n   \
         <dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></dc:description>\n  \
         </rdf:Description>\n \
         </rdf:RDF>\n\
         </x:xmpmeta>\n\
         <?xpacket end=\"w\"?>",
        escape(&p.prompt)
    )
}

/// What [`write`] wrote, or `None` for a packet not ours (no model recorded).
pub fn parse(xmp: &str) -> Option<Provenance> {
    let model = attr(xmp, "seedream:model")?;
    Some(Provenance {
        prompt: description(xmp).unwrap_or_default(),
        model,
        size: attr(xmp, "seedream:size"),
        seed: attr(xmp, "seedream:seed").and_then(|s| s.parse().ok()),
        request_id: attr(xmp, "seedream:requestId"),
        created: attr(xmp, "xmp:CreateDate").unwrap_or_default(),
        job: attr(xmp, "seedream:job"),
        index: attr(xmp, "seedream:index").and_then(|s| s.parse().ok()),
        software: attr(xmp, "xmp:CreatorTool").unwrap_or_default(),
        ai_generated: attr(xmp, "Iptc4xmpExt:DigitalSourceType")
            .is_some_and(|t| t == TRAINED_ALGORITHMIC_MEDIA),
    })
}

fn attr(xmp: &str, name: &str) -> Option<String> {
    let start = xmp.find(&format!(" {name}=\""))? + name.len() + 3;
    let rest = xmp.get(start..)?;
    Some(unescape(rest.get(..rest.find('"')?)?))
}

fn description(xmp: &str) -> Option<String> {
    let block = xmp.get(xmp.find("<dc:description>")?..)?;
    let li = block.get(block.find("<rdf:li")?..)?;
    let text = li.get(li.find('>')? + 1..)?;
    Some(unescape(text.get(..text.find("</rdf:li>")?)?))
}

/// XML-escapes `s` for an attribute or text; characters XML 1.0 cannot hold are dropped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Written as references: a literal line break in an attribute reads back as a space.
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            '\t' => out.push_str("&#x9;"),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp..).unwrap_or_default();
        let Some(semi) = after.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = after.get(1..).unwrap_or_default();
            continue;
        };
        let entity = after.get(1..semi).unwrap_or_default();
        match entity_char(entity) {
            Some(c) => out.push(c),
            None => out.push_str(after.get(..=semi).unwrap_or_default()),
        }
        rest = after.get(semi + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

fn entity_char(entity: &str) -> Option<char> {
    let code = match entity {
        "amp" => return Some('&'),
        "lt" => return Some('<'),
        "gt" => return Some('>'),
        "quot" => return Some('"'),
        "apos" => return Some('\''),
        e => match e.strip_prefix("#x").or_else(|| e.strip_prefix("#X")) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => e.strip_prefix('#')?.parse().ok()?,
        },
    };
    char::from_u32(code)
}
